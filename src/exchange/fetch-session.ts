import { childLinks, isInterior } from '../content/dag.js'
import { BlockNotFoundError, BlockVerificationError, NoProvidersError } from '../errors.js'
import { PeerState } from './peer-state.js'
import { pickBlocks } from './piece-picker.js'
import { WantList } from './want-list.js'
import type { Ledger } from './ledger.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { BlockNetwork } from '../protocol/block-network.js'
import type { ContentDiscovery } from '../routing/content-discovery.js'
import type { BlockStore } from '../store/block-store.js'
import type { ComponentLogger, Logger, PeerId, PeerInfo } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface FetchSessionComponents {
  blocks: BlockStore
  network: BlockNetwork
  discovery: ContentDiscovery
  ledger: Ledger
  logger: ComponentLogger
  /** This peer, so it is never asked for its own blocks. */
  self: PeerId
}

export interface FetchSessionInit {
  root: CID
  /** Requests kept outstanding per peer. */
  requestWindow: number
  /** A request unanswered for this long drops the peer (ms). */
  requestTimeout: number
  /** Fail when no block arrived and no holder could be reached for this long (ms). */
  providerTimeout: number
  /** Longest one provider query may run (ms). */
  queryTimeout?: number
  /** How often to look for more holders while downloading (ms). */
  rediscoverInterval?: number
  onProgress?(progress: FetchProgress): void
}

export interface FetchProgress {
  /** Blocks known to belong to the DAG so far (grows as interior nodes arrive). */
  blocksKnown: number
  /** Of those, blocks on disk (fetched now or held before). */
  blocksDone: number
  /** Bytes fetched from peers in this session. */
  bytesFetched: number
  /** Peers currently in the session. */
  peers: number
}

export interface PeerContribution {
  peerId: string
  bytes: number
  blocks: number
}

export interface FetchResult {
  root: CID
  blocksFetched: number
  bytesFetched: number
  /** Blocks that were already on disk (a resumed download). */
  blocksAlreadyHeld: number
  peers: PeerContribution[]
  seconds: number
}

const TICK = 250

/**
 * One download of one DAG: asks every reachable holder for blocks the local
 * store lacks, verifies and stores what arrives, and follows interior nodes
 * to the rest of the DAG. What is already on disk is never fetched again, so
 * a new session for the same root resumes an interrupted one.
 *
 * The pieces: `WantList` (what is still needed), `PeerState` (per-peer
 * requests and window), `pickBlocks` (which block to ask whom) and the
 * `ContentDiscovery` that finds holders.
 */
export class FetchSession {
  private readonly c: FetchSessionComponents
  private readonly init: Required<Omit<FetchSessionInit, 'onProgress'>> & Pick<FetchSessionInit, 'onProgress'>
  private readonly log: Logger
  private readonly wants = new WantList()
  private readonly peers = new Map<string, PeerState>()
  private readonly connecting = new Set<string>()
  private readonly excluded = new Set<string>()
  private readonly contributions = new Map<string, PeerContribution>()
  private readonly controller = new AbortController()
  private readonly done = Promise.withResolvers<void>()
  private finished = false
  private blocksDone = 0
  private blocksAlreadyHeld = 0
  private bytesFetched = 0
  private blocksFetched = 0
  private lastProgress = Date.now()
  private timer?: ReturnType<typeof setInterval>
  private readonly writes = new Set<Promise<void>>()
  /** Cuts the discovery loop's pause short (when the session runs out of peers). */
  private wakeDiscovery?: () => void

  constructor (components: FetchSessionComponents, init: FetchSessionInit) {
    this.c = components
    this.init = {
      queryTimeout: 30_000,
      rediscoverInterval: 30_000,
      ...init
    }
    this.log = components.logger.forComponent(`shoal:fetch:${init.root.toString().slice(-8)}`)
    // run() awaits this; an early failure must not count as unhandled meanwhile
    this.done.promise.catch(() => {})
  }

  /** Fetch every missing block of the DAG; resolves when all are on disk. */
  async run (signal?: AbortSignal): Promise<FetchResult> {
    const started = Date.now()
    const onAbort = (): void => { this.finish(signal?.reason ?? new Error('aborted')) }
    signal?.addEventListener('abort', onAbort, { once: true })
    signal?.throwIfAborted()
    try {
      await this.expand([this.init.root])
      if (this.wants.isComplete()) {
        this.finish()
      } else {
        this.timer = setInterval(() => { this.tick() }, TICK)
        void this.discover()
      }
      await this.done.promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.finish()
      // blocks already verified are written out before run() returns, even on abort
      await Promise.allSettled(this.writes)
    }
    return {
      root: this.init.root,
      blocksFetched: this.blocksFetched,
      bytesFetched: this.bytesFetched,
      blocksAlreadyHeld: this.blocksAlreadyHeld,
      peers: [...this.contributions.values()].filter(p => p.blocks > 0),
      seconds: (Date.now() - started) / 1000
    }
  }

  /** Add a holder found by some other means (an explicit peer, a test). */
  addPeer (peer: PeerId): void {
    void this.connect(peer)
  }

  private progress (): void {
    this.init.onProgress?.({
      blocksKnown: this.wants.knownCount + this.blocksAlreadyHeld,
      blocksDone: this.blocksDone,
      bytesFetched: this.bytesFetched,
      peers: this.peers.size
    })
  }

  /**
   * Walk the DAG below `cids` through what the store already holds; every
   * missing block goes on the want list.
   */
  private async expand (cids: CID[]): Promise<void> {
    const stack = [...cids]
    while (stack.length > 0) {
      const cid = stack.pop()!
      if (this.wants.has(cid.toString())) continue
      if (await this.c.blocks.has(cid)) {
        if (isInterior(cid)) {
          try {
            const block = await this.c.blocks.get(cid)
            stack.push(...childLinks(cid, block.bytes).reverse())
          } catch (err) {
            if (!(err instanceof BlockVerificationError || err instanceof BlockNotFoundError)) throw err
            // the store removed a rotten copy: fetch it again
            this.wants.add(cid)
            continue
          }
        }
        this.blocksAlreadyHeld++
        this.blocksDone++
      } else {
        this.wants.add(cid)
      }
    }
  }

  private async discover (): Promise<void> {
    const signal = this.controller.signal
    while (!this.finished) {
      try {
        const query = AbortSignal.any([signal, AbortSignal.timeout(this.init.queryTimeout)])
        for await (const provider of this.c.discovery.findProviders(this.init.root, { signal: query })) {
          if (this.finished) return
          this.consider(provider)
        }
      } catch (err: any) {
        if (this.finished) return
        this.log('provider query ended: %s', err.message)
      }
      // with nobody to fetch from, look again soon; otherwise now and then for more holders
      const wait = this.peers.size === 0 && this.connecting.size === 0 ? 1_000 : this.init.rediscoverInterval
      await new Promise<void>(resolve => {
        const t = setTimeout(wake, wait)
        function wake (): void {
          clearTimeout(t)
          signal.removeEventListener('abort', wake)
          resolve()
        }
        this.wakeDiscovery = wake
        signal.addEventListener('abort', wake, { once: true })
      })
      this.wakeDiscovery = undefined
    }
  }

  private consider (provider: PeerInfo): void {
    if (provider.id.equals(this.c.self)) return
    void this.connect(provider.id)
  }

  private async connect (id: PeerId): Promise<void> {
    const key = id.toString()
    if (this.finished || this.peers.has(key) || this.connecting.has(key) || this.excluded.has(key)) return
    this.connecting.add(key)
    try {
      const channel = await this.c.network.openRequestChannel(id, {
        onBlock: block => { this.onBlock(key, block) },
        onInvalidBlock: (cid, err) => { this.onInvalidBlock(key, cid, err) },
        onDontHave: cid => { this.onDontHave(key, cid) },
        onClose: err => { this.dropPeer(key, err?.message ?? 'stream closed') }
      }, { signal: this.controller.signal })
      if (this.finished) {
        await channel.close()
        return
      }
      const peer = new PeerState(id, channel, this.init.requestWindow)
      this.peers.set(key, peer)
      this.contributions.set(key, this.contributions.get(key) ?? { peerId: key, bytes: 0, blocks: 0 })
      this.lastProgress = Date.now()
      this.log('fetching from %s', key)
      this.fill(peer)
      this.progress()
    } catch (err: any) {
      this.log('cannot reach %s: %s', key, err.message)
    } finally {
      this.connecting.delete(key)
    }
  }

  /** Top up a peer's requests to its window. */
  private fill (peer: PeerState): void {
    if (this.finished) return
    const picked = pickBlocks(this.wants, peer, peer.room)
    if (picked.length === 0) return
    const now = Date.now()
    for (const cid of picked) {
      this.wants.requested(cid, peer.key)
      peer.inFlight.set(cid.toString(), { cid, sentAt: now })
    }
    peer.channel.want(picked).catch(err => {
      this.dropPeer(peer.key, `request failed: ${err.message}`)
    })
  }

  private fillAll (): void {
    for (const peer of this.peers.values()) {
      this.fill(peer)
    }
  }

  private onBlock (peerKey: string, block: VerifiedBlock): void {
    const peer = this.peers.get(peerKey)
    const key = block.cid.toString()
    if (peer == null || !peer.inFlight.delete(key)) {
      this.log.trace('ignoring unrequested block %s from %s', key, peerKey)
      return
    }
    const size = block.bytes.byteLength
    peer.bytesReceived += size
    peer.blocksReceived++
    const contribution = this.contributions.get(peerKey)!
    contribution.bytes += size
    contribution.blocks++
    this.c.ledger.received(peerKey, size)

    const askedOthers = this.wants.received(block.cid)
    if (askedOthers == null) {
      // a duplicate that lost the race
      this.fill(peer)
      return
    }
    for (const other of askedOthers) {
      if (other === peerKey) continue
      const o = this.peers.get(other)
      if (o?.inFlight.delete(key) === true) {
        o.channel.cancel([block.cid]).catch(() => {})
      }
    }
    this.bytesFetched += size
    this.blocksFetched++
    this.lastProgress = Date.now()
    this.fill(peer)
    const write = this.store(block)
    this.writes.add(write)
    void write.finally(() => this.writes.delete(write))
  }

  private async store (block: VerifiedBlock): Promise<void> {
    try {
      await this.c.blocks.put(block)
      if (isInterior(block.cid)) {
        await this.expand(childLinks(block.cid, block.bytes))
      }
    } catch (err: any) {
      this.log.error('storing %s failed: %s', block.cid, err.message)
      this.wants.writeFailed(block.cid)
      this.finish(err)
      return
    }
    this.wants.stored(block.cid)
    this.blocksDone++
    if (this.finished) return
    this.progress()
    if (this.wants.isComplete()) {
      this.finish()
    } else {
      this.fillAll()
    }
  }

  private onInvalidBlock (peerKey: string, cid: CID | undefined, err: Error): void {
    this.log.error('peer %s sent a bad block %s: %s', peerKey, cid, err.message)
    this.excluded.add(peerKey)
    this.dropPeer(peerKey, 'sent a block that failed verification')
  }

  private onDontHave (peerKey: string, cid: CID): void {
    const peer = this.peers.get(peerKey)
    const key = cid.toString()
    if (peer == null || !peer.inFlight.delete(key)) return
    peer.lacks.add(key)
    this.wants.withdrawn(cid, peerKey)
    if (cid.equals(this.init.root)) {
      this.dropPeer(peerKey, 'does not have the root')
      return
    }
    this.fillAll()
  }

  private dropPeer (peerKey: string, reason: string): void {
    const peer = this.peers.get(peerKey)
    if (peer == null) return
    this.peers.delete(peerKey)
    this.log('dropping %s: %s', peerKey, reason)
    for (const { cid } of peer.inFlight.values()) {
      this.wants.withdrawn(cid, peerKey)
    }
    peer.inFlight.clear()
    if (peer.channel.isOpen) {
      void peer.channel.close().catch(() => {})
    }
    if (!this.finished) {
      if (this.peers.size === 0) this.wakeDiscovery?.()
      this.fillAll()
      this.progress()
    }
  }

  private tick (): void {
    const now = Date.now()
    for (const peer of [...this.peers.values()]) {
      if (peer.inFlight.size > 0 && peer.oldestRequestAge(now) > this.init.requestTimeout) {
        this.dropPeer(peer.key, 'request timed out')
      }
    }
    if (now - this.lastProgress > this.init.providerTimeout) {
      const secs = Math.round(this.init.providerTimeout / 1000)
      this.finish(this.peers.size === 0
        ? new NoProvidersError(`no reachable peer has ${this.init.root.toString()} (searched for ${secs}s)`)
        : new NoProvidersError(`no block of ${this.init.root.toString()} arrived for ${secs}s from ${this.peers.size} peer(s)`))
    }
  }

  private finish (err?: Error): void {
    if (this.finished) return
    this.finished = true
    clearInterval(this.timer)
    this.controller.abort()
    for (const peer of this.peers.values()) {
      void peer.channel.close().catch(() => {})
    }
    this.peers.clear()
    if (err != null) {
      this.done.reject(err)
    } else {
      this.done.resolve()
    }
  }
}
