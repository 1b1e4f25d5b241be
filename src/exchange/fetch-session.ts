import { isInterior, sizedLinks } from '../content/dag.js'
import { PROVIDER_QUERY_TIMEOUT, REDISCOVER_ALONE, REDISCOVER_FIRST, REDISCOVER_INTERVAL } from './constants.js'
import { AbortError } from '@libp2p/interface'
import { BlockNotFoundError, BlockVerificationError, NoProvidersError } from '../errors.js'
import { Availability } from './availability.js'
import { Bitfield } from './bitfield.js'
import { LeafIndex } from './leaf-index.js'
import { PeerState } from './peer-state.js'
import { pickBlocks, pickEndgame } from './piece-picker.js'
import { WantList } from './want-list.js'
import type { BanList } from './ban-list.js'
import type { Ledger } from './ledger.js'
import type { Swarm, RemotePeer } from './swarm.js'
import type { SwarmRegistry } from './swarm-registry.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { BlockNetwork } from '../protocol/block-network.js'
import type { ProviderFinder } from './provider-finder.js'
import type { BlockStore } from '../store/block-store.js'
import type { ComponentLogger, Logger, PeerId, PeerInfo } from '@libp2p/interface'
import type { TokenBucket } from './token-bucket.js'
import type { CID } from 'multiformats/cid'

export interface FetchSessionComponents {
  blocks: BlockStore
  network: BlockNetwork
  swarms: SwarmRegistry
  discovery: ProviderFinder
  ledger: Ledger
  bans: BanList
  logger: ComponentLogger
  /** This peer, so it is never asked for its own blocks. */
  self: PeerId
  /** Peers connected now: asked first whether they hold the root. */
  connectedPeers(): PeerId[]
  /** Emits `peer:connect` for each new connection (libp2p's event target): newcomers are asked too. */
  events: { addEventListener(type: 'peer:connect', fn: (e: CustomEvent<PeerId>) => void): void, removeEventListener(type: 'peer:connect', fn: (e: CustomEvent<PeerId>) => void): void }
}

export interface FetchSessionInit {
  root: CID
  /** Most requests outstanding per peer. */
  maxWindow: number
  /** A request unanswered for this long drops the peer (ms). */
  requestTimeout: number
  /** Fail when no block arrived and no holder could be reached for this long (ms). */
  providerTimeout: number
  /** How long a peer that sent a bad block is banned (ms). */
  banTime: number
  /** Fetch leaves in file order within a window (for streaming), not rarest first. */
  sequential?: boolean
  /** Longest one provider query may run (ms). */
  queryTimeout?: number
  /** How often to look for more holders while downloading (ms). */
  rediscoverInterval?: number
  onProgress?(progress: FetchProgress): void
  /** The first leaf is stored: this peer can serve part of the root. */
  onServable?(): void
  /** No peer holding anything of the root was found within a second: still searching, for at most `timeout` ms more. */
  onSearching?(timeout: number): void
  /** A block is verified and on disk. */
  onStored?(cid: CID): void
  /** Paces this session's requests (replica repairs share one bucket). */
  rateLimit?: TokenBucket
}

export interface FetchProgress {
  /** Blocks known to belong to the DAG so far (grows as interior nodes arrive). */
  blocksKnown: number
  /** Of those, blocks on disk (fetched now or held before). */
  blocksDone: number
  /** Bytes fetched from peers in this session. */
  bytesFetched: number
  /** Bytes of the DAG on disk (fetched now or held before). */
  bytesDone: number
  /** Bytes of the whole DAG (every block), once the root is known; 0 before. */
  bytesTotal: number
  /** Peers we are fetching from. */
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
  /** Copies of blocks that arrived after another peer's copy (endgame duplicates). */
  duplicateBlocks: number
  peers: PeerContribution[]
  /** Peers this session stopped asking, and why (a timeout, a lie, a closed stream): one entry per peer and reason. */
  dropped: Array<{ peerId: string, reason: string }>
  seconds: number
}

const TICK = 250
/** After this long without a peer holding anything, the session says it is searching (ms). */
const SEARCH_NOTICE_DELAY = 1_000
/** Connected peers asked whether they hold the root when a session starts. */
const PROBE_CONNECTED = 32
/** Window of leaves ahead of the first missing one in sequential mode. */
const SEQUENTIAL_WINDOW = 32
/** In endgame, a block is asked of at most this many peers at once. */
const ENDGAME_MAX_ASKED = 2
const INITIAL_WINDOW = 8
const MIN_WINDOW = 2
/**
 * Verified blocks waiting to be written before no more are requested: the
 * network may outrun the disk, and memory must not grow with the file.
 */
const MAX_PENDING_WRITES = 32
/** Requests a rate-limited session may have paid for in advance, and the block size assumed before any arrived. */
const PACED_CREDITS = 4
/** "Don't have" answers for blocks a peer claimed before it is banned as a liar. */
const MAX_BROKEN_CLAIMS = 4
const PACED_FIRST_BLOCK = 256 * 1024

/**
 * One download of one DAG: a swarm session. It finds holders (the DHT,
 * peers already connected, peer exchange in the root's swarm), learns what
 * each holds (swarm bitfields and haves), asks each for blocks it lacks,
 * rarest first, keeping a per-peer window of requests sized to that peer's
 * rate × latency, and in the endgame asks idle peers for what is still in
 * flight. Every block is verified before it is stored; a peer that lies is
 * banned. What is already on disk is never fetched again, so a new session
 * for the same root resumes an interrupted one; blocks stored so far are
 * served to others while the download goes on.
 */
export class FetchSession {
  private readonly c: FetchSessionComponents
  private readonly init: FetchSessionInit & { queryTimeout: number, rediscoverInterval: number }
  private readonly log: Logger
  private readonly wants = new WantList()
  private readonly peers = new Map<string, PeerState>()
  /** Why each dropped peer was dropped (every distinct reason, in order). */
  private readonly drops = new Map<string, Set<string>>()
  /** Peers that let a request time out, and until when they are not asked again. */
  private readonly benched = new Map<string, { until: number, id: PeerId }>()
  private readonly connecting = new Set<string>()
  private readonly contributions = new Map<string, PeerContribution>()
  private readonly controller = new AbortController()
  private readonly done = Promise.withResolvers<void>()
  private readonly writes = new Set<Promise<void>>()
  private readonly swarm: Swarm
  private readonly listeners: Array<() => void> = []
  private finished = false
  private blocksDone = 0
  private bytesDone = 0
  private bytesTotal = 0
  /** Sizes the parents name for blocks not yet counted as done (for byte progress). */
  private readonly sizes = new Map<string, number>()
  private blocksAlreadyHeld = 0
  private bytesFetched = 0
  private blocksFetched = 0
  private duplicateBlocks = 0
  private interiorOutstanding = 0
  private lastProgress = Date.now()
  private timer?: ReturnType<typeof setInterval>
  private wakeDiscovery?: () => void
  private index?: LeafIndex
  private indexing = false
  private availability?: Availability
  private tiebreak?: Uint32Array
  /** Requests the rate limit allows now (unlimited without one). */
  private credits = Infinity
  private creditUsed?: PromiseWithResolvers<void>
  private localLeaves?: Bitfield
  private frontier = 0
  private servable = false
  private searchNoticed = false

  constructor (components: FetchSessionComponents, init: FetchSessionInit) {
    this.c = components
    this.init = { queryTimeout: PROVIDER_QUERY_TIMEOUT, rediscoverInterval: REDISCOVER_INTERVAL, ...init }
    this.log = components.logger.forComponent(`shoal:fetch:${init.root.toString().slice(-8)}`)
    this.swarm = components.swarms.join(init.root)
    // run() awaits this; an early failure must not count as unhandled meanwhile
    this.done.promise.catch(() => {})
  }

  /** Fetch every missing block of the DAG; resolves when all are on disk. */
  async run (signal?: AbortSignal): Promise<FetchResult> {
    const started = Date.now()
    const onAbort = (): void => { this.finish(signal?.reason ?? new AbortError()) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      signal?.throwIfAborted()
      await this.expand([this.init.root])
      await this.maybeIndex()
      if (this.wants.isComplete()) {
        this.finish()
      } else {
        this.listen()
        if (this.init.rateLimit != null && !this.init.rateLimit.unlimited) {
          this.credits = 0
          void this.pace(this.init.rateLimit)
        }
        this.timer = setInterval(() => { this.tick() }, TICK)
        for (const peer of this.c.connectedPeers().slice(0, PROBE_CONNECTED)) this.consider(peer)
        void this.discover()
      }
      await this.done.promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.finish()
      // blocks already verified are written out before run() returns, even on abort
      await Promise.allSettled(this.writes)
      if (this.wants.isComplete()) this.swarm.setComplete()
      this.c.swarms.release(this.swarm)
    }
    return {
      root: this.init.root,
      blocksFetched: this.blocksFetched,
      bytesFetched: this.bytesFetched,
      blocksAlreadyHeld: this.blocksAlreadyHeld,
      duplicateBlocks: this.duplicateBlocks,
      peers: [...this.contributions.values()].filter(p => p.blocks > 0),
      dropped: [...this.drops].flatMap(([peerId, reasons]) => [...reasons].map(reason => ({ peerId, reason }))),
      seconds: (Date.now() - started) / 1000
    }
  }

  private on<T> (target: { addEventListener(type: string, fn: (e: any) => void): void, removeEventListener(type: string, fn: (e: any) => void): void }, type: string, fn: (detail: T) => void): void {
    const handler = (e: CustomEvent<T>): void => { fn(e.detail) }
    target.addEventListener(type, handler)
    this.listeners.push(() => { target.removeEventListener(type, handler) })
  }

  private listen (): void {
    this.on<RemotePeer>(this.swarm, 'peer:state', remote => {
      this.availability?.setPeer(remote.key, remote.complete, remote.bitfield)
      if (remote.holdsSomething) this.connectBlocks(remote.id)
      const peer = this.peers.get(remote.key)
      if (peer != null) this.fill(peer)
    })
    this.on<{ peer: RemotePeer, indices: number[] }>(this.swarm, 'peer:have', ({ peer: remote, indices }) => {
      this.availability?.addHaves(remote.key, indices)
      const peer = this.peers.get(remote.key)
      if (peer != null) this.fill(peer)
      else this.connectBlocks(remote.id)
    })
    this.on<RemotePeer>(this.swarm, 'peer:gone', remote => {
      this.availability?.removePeer(remote.key)
    })
    this.on<PeerInfo>(this.swarm, 'discovered', info => { this.consider(info.id) })
    this.on<PeerId>(this.c.events as any, 'peer:connect', peer => { this.consider(peer) })
    this.on<{ peer: string }>(this.c.bans, 'ban', ({ peer }) => {
      this.dropPeer(peer, 'banned')
    })
  }

  private progress (): void {
    this.init.onProgress?.({
      blocksKnown: this.wants.knownCount + this.blocksAlreadyHeld,
      blocksDone: this.blocksDone,
      bytesFetched: this.bytesFetched,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
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
            stack.push(...this.children(cid, block.bytes).reverse())
            this.counted(cid, block.bytes.byteLength)
          } catch (err) {
            if (!(err instanceof BlockVerificationError || err instanceof BlockNotFoundError)) throw err
            // the store removed a rotten copy: fetch it again
            this.want(cid)
            continue
          }
        } else {
          this.counted(cid, this.sizes.get(cid.toString()) ?? 0)
        }
        this.blocksAlreadyHeld++
        this.blocksDone++
      } else {
        this.want(cid)
      }
    }
  }

  /** An interior node's children, noting the sizes it names (the root's give the DAG's total). */
  private children (cid: CID, bytes: Uint8Array): CID[] {
    const links = sizedLinks(cid, bytes)
    for (const link of links) this.sizes.set(link.cid.toString(), link.size)
    if (cid.equals(this.init.root)) this.bytesTotal = bytes.byteLength + links.reduce((n, l) => n + l.size, 0)
    return links.map(l => l.cid)
  }

  /** A block is on disk: it counts towards the bytes done. */
  private counted (cid: CID, bytes: number): void {
    this.sizes.delete(cid.toString())
    this.bytesDone += bytes
  }

  private want (cid: CID): void {
    if (this.wants.has(cid.toString())) return
    if (isInterior(cid)) this.interiorOutstanding++
    this.wants.add(cid)
  }

  /** Once every interior node is on disk, number the leaves and tell the swarm what we hold. */
  private async maybeIndex (): Promise<void> {
    if (this.index != null || this.indexing || this.interiorOutstanding > 0 || !isInterior(this.init.root)) return
    this.indexing = true
    try {
      const index = await LeafIndex.build(this.init.root, this.c.blocks)
      const local = new Bitfield(index.size)
      index.leaves.forEach((cid, i) => { if (!this.wants.has(cid.toString())) local.set(i) })
      const availability = new Availability(index.size)
      for (const remote of this.swarm.peers.values()) availability.setPeer(remote.key, remote.complete, remote.bitfield)
      const tiebreak = new Uint32Array(index.size)
      crypto.getRandomValues(tiebreak)
      this.index = index
      this.localLeaves = local
      this.availability = availability
      this.tiebreak = tiebreak
      this.advanceFrontier()
      this.swarm.setLeaves(local)
      if (local.count > 0) this.markServable()
      this.fillAll()
    } catch (err: any) {
      this.log('cannot number the leaves yet: %s', err.message)
    } finally {
      this.indexing = false
    }
  }

  private advanceFrontier (): void {
    const local = this.localLeaves
    if (local == null) return
    while (this.frontier < local.size && local.has(this.frontier)) this.frontier++
  }

  private markServable (): void {
    if (this.servable) return
    this.servable = true
    this.init.onServable?.()
  }

  private async discover (): Promise<void> {
    const signal = this.controller.signal
    let round = 0
    while (!this.finished) {
      try {
        const query = AbortSignal.any([signal, AbortSignal.timeout(this.init.queryTimeout)])
        for await (const provider of this.c.discovery.findProviders(this.init.root, { signal: query })) {
          if (this.finished) return
          this.consider(provider.id)
        }
      } catch (err: any) {
        if (this.finished) return
        this.log('provider query ended: %s', err.message)
      }
      // with nobody to fetch from, look again soon; otherwise for more holders, more and more rarely
      const wait = this.peers.size === 0 && this.connecting.size === 0
        ? REDISCOVER_ALONE
        : Math.min(this.init.rediscoverInterval, REDISCOVER_FIRST * 2 ** round++)
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

  /** A possible holder: learn what it holds through the swarm (or, failing that, just ask it). */
  private consider (id: PeerId): void {
    const key = id.toString()
    if (this.finished || id.equals(this.c.self) || this.c.bans.isBanned(key)) return
    this.swarm.connect(id, this.controller.signal).catch(err => {
      if (this.finished) return
      this.log('no swarm stream to %s (%s); asking it for blocks directly', key, err.message)
      this.connectBlocks(id)
    })
  }

  /** Open a block stream to a peer that holds something. */
  private connectBlocks (id: PeerId): void {
    const key = id.toString()
    if (this.finished || this.peers.has(key) || this.connecting.has(key) || this.c.bans.isBanned(key)) return
    if ((this.benched.get(key)?.until ?? 0) > Date.now()) return
    this.connecting.add(key)
    this.c.network.openRequestChannel(id, {
      onBlock: block => { this.onBlock(key, block) },
      onInvalidBlock: (cid, err) => { this.onInvalidBlock(key, cid, err) },
      onDontHave: cid => { this.onDontHave(key, cid) },
      onClose: err => { this.dropPeer(key, err?.message ?? 'stream closed') }
    }, { signal: this.controller.signal }).then(channel => {
      if (this.finished || this.c.bans.isBanned(key)) {
        void channel.close().catch(() => {})
        return
      }
      const peer = new PeerState(id, channel, { initial: INITIAL_WINDOW, min: MIN_WINDOW, max: this.init.maxWindow }, () => this.c.network.rttOf(id))
      this.peers.set(key, peer)
      if (!this.contributions.has(key)) this.contributions.set(key, { peerId: key, bytes: 0, blocks: 0 })
      this.lastProgress = Date.now()
      this.log('fetching from %s', key)
      this.fill(peer)
      this.progress()
    }, err => {
      this.log('cannot reach %s: %s', key, err.message)
    }).finally(() => {
      this.connecting.delete(key)
    })
  }

  /** Top up a peer's requests to its window. */
  private fill (peer: PeerState): void {
    if (this.finished || this.writes.size >= MAX_PENDING_WRITES) return
    let room = Math.min(peer.room, this.credits)
    if (room === 0) return
    const input = {
      wants: this.wants,
      peer,
      holdings: this.swarm.peers.get(peer.key),
      index: this.index,
      availability: this.availability,
      tiebreak: this.tiebreak,
      sequential: this.init.sequential === true ? { frontier: this.frontier, window: SEQUENTIAL_WINDOW } : undefined,
      max: room
    }
    const picked = pickBlocks(input)
    room -= picked.length
    if (room > 0 && this.wants.pendingCount === 0) {
      picked.push(...pickEndgame(this.wants.inFlightEntries(), { ...input, max: room }, ENDGAME_MAX_ASKED))
    }
    if (picked.length === 0) return
    this.log.trace('asking %s for %d block(s); window %d, %d pending', peer.key, picked.length, peer.window, this.wants.pendingCount)
    const now = Date.now()
    if (Number.isFinite(this.credits)) {
      this.credits -= picked.length
      this.creditUsed?.resolve()
    }
    for (const cid of picked) {
      this.wants.requested(cid, peer.key)
      peer.inFlight.set(cid.toString(), { cid, sentAt: now })
    }
    peer.channel.want(picked).catch(err => {
      this.dropPeer(peer.key, `request failed: ${err.message}`)
    })
  }

  /**
   * With a rate limit, requests are paid for in advance: each credit is one
   * block's worth of tokens (the average block so far), and at most
   * PACED_CREDITS are banked, so an idle session takes nothing from others.
   */
  private async pace (limit: TokenBucket): Promise<void> {
    const signal = this.controller.signal
    while (!this.finished) {
      if (this.credits >= PACED_CREDITS) {
        this.creditUsed = Promise.withResolvers<void>()
        await this.creditUsed.promise
        continue
      }
      const blockSize = this.blocksFetched > 0 ? this.bytesFetched / this.blocksFetched : PACED_FIRST_BLOCK
      try {
        await limit.take(Math.ceil(blockSize), signal)
      } catch {
        return
      }
      this.credits++
      this.fillAll()
    }
  }

  private fillAll (): void {
    for (const peer of this.peers.values()) this.fill(peer)
  }

  private onBlock (peerKey: string, block: VerifiedBlock): void {
    const peer = this.peers.get(peerKey)
    const key = block.cid.toString()
    const request = peer?.inFlight.get(key)
    if (peer == null || request == null) {
      this.log.trace('ignoring unrequested block %s from %s', key, peerKey)
      return
    }
    peer.inFlight.delete(key)
    const size = block.bytes.byteLength
    peer.received(size)
    const contribution = this.contributions.get(peerKey)!
    contribution.bytes += size
    contribution.blocks++
    this.c.ledger.received(peerKey, size)
    this.lastProgress = Date.now()

    const askedOthers = this.wants.received(block.cid)
    if (askedOthers == null) {
      // a duplicate that lost the race (endgame)
      this.duplicateBlocks++
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
    this.fill(peer)
    const write = this.store(block)
    this.writes.add(write)
    void write.finally(() => {
      const wasFull = this.writes.size >= MAX_PENDING_WRITES
      this.writes.delete(write)
      if (wasFull) this.fillAll()
    })
  }

  private async store (block: VerifiedBlock): Promise<void> {
    const interior = isInterior(block.cid)
    try {
      await this.c.blocks.put(block)
      this.counted(block.cid, block.bytes.byteLength)
      if (interior) {
        await this.expand(this.children(block.cid, block.bytes))
      }
    } catch (err: any) {
      this.log.error('storing %s failed: %s', block.cid, err.message)
      this.wants.writeFailed(block.cid)
      this.finish(err)
      return
    }
    this.wants.stored(block.cid)
    this.blocksDone++
    this.init.onStored?.(block.cid)
    if (interior) {
      this.interiorOutstanding--
      void this.maybeIndex()
    } else if (this.index != null) {
      for (const i of this.index.indicesOf(block.cid)) this.swarm.have(i)
      this.advanceFrontier()
      this.markServable()
    }
    if (this.finished) return
    this.progress()
    if (this.wants.isComplete()) {
      this.finish()
    } else if (interior) {
      this.fillAll()
    }
  }

  private onInvalidBlock (peerKey: string, cid: CID | undefined, err: Error): void {
    this.log.error('peer %s sent a bad block %s: %s; banning it', peerKey, cid, err.message)
    this.c.bans.ban(peerKey, this.init.banTime, 'sent a block that failed verification')
    this.dropPeer(peerKey, 'sent a block that failed verification')
  }

  private onDontHave (peerKey: string, cid: CID): void {
    const peer = this.peers.get(peerKey)
    const key = cid.toString()
    if (peer == null || !peer.inFlight.delete(key)) return
    peer.answered()
    peer.lacks.add(key)
    this.wants.withdrawn(cid, peerKey)
    if (cid.equals(this.init.root)) {
      this.dropPeer(peerKey, 'does not have the root')
      return
    }
    // it said it held this block: a block rotting on an honest disk explains one or two such
    // answers, a peer that advertises what it does not serve is lying
    if (this.claimed(peerKey, cid) && ++peer.brokenClaims > MAX_BROKEN_CLAIMS) {
      this.log.error('peer %s claims blocks it does not serve; banning it', peerKey)
      this.c.bans.ban(peerKey, this.init.banTime, 'claims blocks it does not serve')
      this.dropPeer(peerKey, 'claims blocks it does not serve')
      return
    }
    this.fillAll()
  }

  /** Whether the peer told the swarm it holds `cid` (complete, or the leaf's bit set). */
  private claimed (peerKey: string, cid: CID): boolean {
    const remote = this.swarm.peers.get(peerKey)
    if (remote == null || !remote.heard) return false
    if (remote.complete) return true
    const indices = this.index?.indicesOf(cid)
    return indices != null && indices.some(i => remote.hasLeaf(i) === true)
  }

  private dropPeer (peerKey: string, reason: string): void {
    const peer = this.peers.get(peerKey)
    if (peer == null) return
    this.peers.delete(peerKey)
    const reasons = this.drops.get(peerKey) ?? new Set()
    if (reasons.size < 8) reasons.add(reason)
    this.drops.set(peerKey, reasons)
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
    // a benched peer gets another chance once its time is up (it may be the only holder)
    for (const [key, { until, id }] of this.benched) {
      if (until > now) continue
      this.benched.delete(key)
      this.connectBlocks(id)
    }
    for (const peer of [...this.peers.values()]) {
      if (peer.silentFor(now) > this.init.requestTimeout) {
        // stalling: asked again only after as long again
        this.benched.set(peer.key, { until: now + this.init.requestTimeout, id: peer.id })
        this.dropPeer(peer.key, 'request timed out')
      }
    }
    // windows follow measured rates
    this.fillAll()
    if (!this.searchNoticed && this.peers.size === 0 && now - this.lastProgress >= SEARCH_NOTICE_DELAY) {
      this.searchNoticed = true
      this.init.onSearching?.(this.init.providerTimeout - (now - this.lastProgress))
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
    this.creditUsed?.resolve()
    for (const off of this.listeners.splice(0)) off()
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
