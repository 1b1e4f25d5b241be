import { AbortError } from '@libp2p/interface'
import { isInterior } from '../content/dag.js'
import { formatDuration } from '../duration.js'
import { NoProvidersError } from '../errors.js'
import { BlockSink } from './block-sink.js'
import { LIMITED_ONLY_GRACE, PROVIDER_QUERY_TIMEOUT, REDISCOVER_INTERVAL } from './constants.js'
import { HolderSearch } from './holder-search.js'
import { PeerPool } from './peer-pool.js'
import { Scheduler } from './scheduler.js'
import { SessionDag } from './session-dag.js'
import { SwarmLink } from './swarm-link.js'
import type { FetchProgress, FetchResult, FetchSessionComponents, FetchSessionInit, PeerContribution } from './session-types.js'
import type { PeerState } from './peer-state.js'
import type { Swarm } from './swarm.js'
import type { WantSubscriber } from './want-manager.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const TICK = 250
/** After this long without a peer holding anything, the session says it is searching (ms). */
const SEARCH_NOTICE_DELAY = 1_000
/** Connected peers asked whether they hold the root when a session starts. */
const PROBE_CONNECTED = 32
const WINDOW = { initial: 8, min: 2 }
/** Verified blocks being written before no more are requested (memory stays flat with file size). */
const MAX_PENDING_WRITES = 8
/** "Don't have" answers for blocks a peer claimed before it is banned as a liar. */
const MAX_BROKEN_CLAIMS = 4
/** The block size a rate-limited session assumes before any arrived. */
const PACED_FIRST_BLOCK = 256 * 1024

/**
 * One download of one DAG: a swarm session, made of
 * - a `SessionDag` (what is wanted, the leaves in order, progress),
 * - a `HolderSearch` (providers from content routing) and the root's swarm
 *   (bitfields, haves and peer exchange),
 * - a `PeerPool` (a block channel per holder, through any block source),
 * - a `Scheduler` (what to ask whom, rarest first, endgame, pacing),
 * - a `BlockSink` (verified blocks to the store, bounded),
 * and the policy that binds them: every block is verified before it is
 * stored, a peer that lies is banned, what is on disk is never fetched
 * again (a new session resumes an interrupted one), and a block another
 * download of the node is fetching is waited for, not asked for twice.
 *
 * Longer than the other parts (about 350 lines) because it is the one place
 * that wires them and holds the policy between them; each part it wires is
 * a file of its own.
 */
export class FetchSession implements WantSubscriber {
  private readonly c: FetchSessionComponents
  private readonly init: FetchSessionInit
  private readonly log: Logger
  private readonly dag: SessionDag
  private readonly pool: PeerPool
  private readonly scheduler: Scheduler
  private readonly sink: BlockSink
  private readonly search: HolderSearch
  private readonly swarm: Swarm
  private readonly controller = new AbortController()
  private readonly done = Promise.withResolvers<void>()
  private readonly link: SwarmLink
  private finished = false
  private bytesFetched = 0
  private blocksFetched = 0
  private blocksShared = 0
  private duplicateBlocks = 0
  private lastProgress = Date.now()
  private timer?: ReturnType<typeof setInterval>
  private servable = false
  private numbered = false
  private searchNoticed = false
  /** A block or sub-DAG of another root: no swarm of its own is told what we hold. */
  private readonly partial: boolean

  constructor (components: FetchSessionComponents, init: FetchSessionInit) {
    this.c = components
    this.init = init
    this.log = components.logger.forComponent(`shoal:fetch:${init.root.toString().slice(-8)}`)
    this.partial = init.scope === 'block' || (init.holdersOf != null && !init.holdersOf.equals(init.root))
    this.swarm = components.swarms.join(init.root)
    this.dag = new SessionDag(init.root, { blocks: components.blocks, log: this.log, register: cid => components.wants.want(cid, this), checkSize: init.checkSize }, { shallow: init.scope === 'block' })
    this.pool = new PeerPool({ sources: components.sources, bans: components.bans, log: this.log }, {
      window: { ...WINDOW, max: init.maxWindow },
      requestTimeout: init.requestTimeout
    }, {
      onReady: peer => { this.onReady(peer) },
      onBlock: (peer, block) => { this.onBlock(peer, block) },
      onInvalidBlock: (key, cid, err) => { this.onInvalidBlock(key, cid, err) },
      onDontHave: (peer, cid) => { this.onDontHave(peer, cid) },
      onDropped: peer => { this.onDropped(peer) }
    })
    this.scheduler = new Scheduler({
      dag: this.dag,
      pool: this.pool,
      swarm: this.swarm,
      log: this.log,
      claim: cid => components.wants.claim(cid, this),
      canReceive: () => this.sink.hasRoom,
      onSendFailed: (peer, err) => { this.pool.drop(peer.key, `request failed: ${err.message}`) }
    }, { sequential: init.sequential === true })
    this.sink = new BlockSink(init.writer ?? components.blocks, {
      maxPending: MAX_PENDING_WRITES,
      onRoom: () => { this.scheduler.fillAll() },
      onError: (cid, err) => { this.writeFailed(cid, err) }
    })
    this.link = new SwarmLink({
      swarm: this.swarm,
      dag: this.dag,
      pool: this.pool,
      scheduler: this.scheduler,
      bans: components.bans,
      connects: components.events,
      self: components.self,
      log: this.log,
      signal: this.controller.signal,
      finished: () => this.finished,
      direct: this.partial
    })
    this.search = new HolderSearch(components.discovery, this.log, {
      root: init.holdersOf ?? init.root,
      queryTimeout: init.queryTimeout ?? PROVIDER_QUERY_TIMEOUT,
      rediscoverInterval: init.rediscoverInterval ?? REDISCOVER_INTERVAL,
      alone: () => this.pool.isEmpty,
      found: peer => {
        this.pool.knownHolder(peer.toString())
        this.link.consider(peer)
      }
    })
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
      await this.dag.expand([this.init.root])
      await this.number()
      if (this.dag.wants.isComplete()) {
        this.finish()
      } else {
        this.link.listen()
        const limit = this.init.rateLimit
        if (limit != null && !limit.unlimited) {
          void this.scheduler.pace(limit, () => this.blocksFetched > 0 ? this.bytesFetched / this.blocksFetched : PACED_FIRST_BLOCK, this.controller.signal)
        }
        this.timer = setInterval(() => { this.tick() }, TICK)
        for (const peer of this.c.connectedPeers().slice(0, PROBE_CONNECTED)) this.link.consider(peer)
        void this.search.run(this.controller.signal)
      }
      await this.done.promise
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.finish()
      // blocks already verified are written out before run() returns, even on abort
      await this.sink.flush()
      if (this.dag.wants.isComplete() && !this.partial) this.swarm.setComplete()
      this.c.swarms.release(this.swarm)
    }
    return {
      root: this.init.root,
      blocksFetched: this.blocksFetched,
      bytesFetched: this.bytesFetched,
      blocksAlreadyHeld: this.dag.blocksAlreadyHeld,
      blocksShared: this.blocksShared,
      duplicateBlocks: this.duplicateBlocks,
      peers: this.pool.contributors(),
      dropped: this.pool.dropped(),
      seconds: (Date.now() - started) / 1000
    }
  }

  /** Bytes fetched and endgame duplicates so far (a failed download's too). */
  get tally (): { bytes: number, duplicates: number } {
    return { bytes: this.bytesFetched, duplicates: this.duplicateBlocks }
  }

  /** Requests sent to peers and not answered yet. */
  get requestsInFlight (): number {
    let n = 0
    for (const peer of this.pool.peers.values()) n += peer.inFlight.size
    return n
  }

  claimedElsewhere (cid: CID): void {
    this.dag.wants.elsewhere(cid)
  }

  releasedElsewhere (cid: CID): void {
    this.dag.wants.takeBack(cid)
    this.scheduler.fillAll()
  }

  storedElsewhere (cid: CID): void {
    // looked up first: a block stored a while ago may have gone since (its file deleted by its owner)
    void this.c.blocks.has(cid).then(has => {
      if (this.finished) return
      if (has) this.adoptStored(cid)
      else this.releasedElsewhere(cid)
    }, err => { this.writeFailed(cid, err) })
  }

  private adoptStored (cid: CID): void {
    if (!this.dag.wants.storedElsewhere(cid)) return
    this.blocksShared++
    this.lastProgress = Date.now()
    // an interior node is read back to walk on; a failure is the store's, as with our own writes
    this.sink.adopt(cid, async () => {
      const bytes = isInterior(cid) ? (await this.c.blocks.get(cid)).bytes : undefined
      if (bytes != null) await this.init.writer?.seen?.(cid, bytes)
      await this.dag.landed(cid, bytes?.byteLength, bytes)
      this.dag.wants.stored(cid)
      this.settle(cid)
    })
  }

  private progress (): void {
    this.init.onProgress?.(this.state())
  }

  get root (): CID {
    return this.init.root
  }

  /** Where the download stands now. */
  state (): FetchProgress {
    return {
      blocksKnown: this.dag.blocksKnown,
      blocksDone: this.dag.blocksDone,
      bytesFetched: this.bytesFetched,
      bytesDone: this.dag.bytesDone,
      bytesTotal: this.dag.bytesTotal,
      peers: this.pool.size
    }
  }

  /** What each peer sent this download so far. */
  contributors (): PeerContribution[] {
    return this.pool.contributors()
  }

  /** Once every interior node is on disk, number the leaves and tell the swarm what we hold. */
  private async number (): Promise<void> {
    let numbering
    try {
      numbering = await this.dag.number(this.swarm.peers.values())
    } catch (err: any) {
      this.finish(err)
      return
    }
    if (numbering == null || this.numbered) return
    this.numbered = true
    if (!this.partial) this.swarm.setLeaves(numbering.local)
    if (numbering.local.count > 0) this.markServable()
    this.scheduler.fillAll()
  }

  private markServable (): void {
    if (this.servable) return
    this.servable = true
    this.init.onServable?.()
  }

  private onReady (peer: PeerState): void {
    if (this.finished) return
    this.lastProgress = Date.now()
    this.scheduler.fill(peer)
    this.progress()
  }

  private onBlock (peer: PeerState, block: VerifiedBlock): void {
    const key = block.cid.toString()
    if (!peer.inFlight.delete(key)) {
      this.log.trace('ignoring unrequested block %s from %s', key, peer.key)
      return
    }
    const size = block.byteLength
    peer.received(size, Date.now(), !isInterior(block.cid))
    this.pool.credit(peer, size)
    this.c.ledger.received(peer.key, size, peer.channel.protocol)
    this.lastProgress = Date.now()

    const askedOthers = this.dag.wants.received(block.cid)
    if (askedOthers == null) {
      // a duplicate that lost the race (endgame)
      this.duplicateBlocks++
      this.scheduler.fill(peer)
      return
    }
    for (const other of askedOthers) {
      if (other === peer.key) continue
      const o = this.pool.peers.get(other)
      if (o?.inFlight.delete(key) !== true) continue
      o.channel.cancel([block.cid]).catch(() => {})
      // its freed slot goes to another block now, not at the next tick
      this.scheduler.fill(o)
    }
    this.bytesFetched += size
    this.blocksFetched++
    this.scheduler.fill(peer)
    this.sink.write(block, async () => {
      await this.dag.landed(block.cid, size, isInterior(block.cid) ? block.bytes : undefined)
      this.c.wants.stored(block.cid, this)
      this.dag.wants.stored(block.cid)
      this.settle(block.cid)
    })
  }

  /** A block of the DAG is on disk and off the want list: tell the swarm, the caller, and go on. */
  private settle (cid: CID): void {
    const indices = this.dag.settled(cid)
    this.init.onStored?.(cid)
    if (isInterior(cid)) {
      void this.number()
    } else if (this.dag.numbering != null) {
      if (!this.partial) for (const i of indices) this.swarm.have(i)
      this.dag.advanceFrontier()
      this.markServable()
    }
    if (this.finished) return
    this.progress()
    if (this.dag.wants.isComplete()) {
      // numbered first: a DAG too large to number is refused even once its few blocks are all here
      void this.number().then(() => { this.finish() })
    } else if (isInterior(cid)) {
      this.scheduler.fillAll()
    }
  }

  private writeFailed (cid: CID, err: Error): void {
    this.log.error('storing %s failed: %s', cid, err.message)
    this.dag.wants.writeFailed(cid)
    this.finish(err)
  }

  private onInvalidBlock (peerKey: string, cid: CID | undefined, err: Error): void {
    this.log.error('peer %s sent a bad block %s: %s; banning it', peerKey, cid, err.message)
    this.c.bans.ban(peerKey, this.init.banTime, 'sent a block that failed verification', 'bad-block')
    this.pool.drop(peerKey, 'sent a block that failed verification')
  }

  private onDontHave (peer: PeerState, cid: CID): void {
    const key = cid.toString()
    if (!peer.inFlight.delete(key)) return
    peer.answered()
    peer.lacks.add(key)
    this.withdraw(cid, peer.key)
    if (cid.equals(this.init.root)) {
      this.pool.drop(peer.key, 'does not have the root')
      return
    }
    // it said it held this block: a block rotting on an honest disk explains one or two such
    // answers, a peer that advertises what it does not serve is lying
    if (this.link.claimed(peer.key, cid) && ++peer.brokenClaims > MAX_BROKEN_CLAIMS) {
      this.log.error('peer %s claims blocks it does not serve; banning it', peer.key)
      this.c.bans.ban(peer.key, this.init.banTime, 'claims blocks it does not serve', 'false-claims')
      this.pool.drop(peer.key, 'claims blocks it does not serve')
      return
    }
    this.scheduler.fillAll()
  }

  /** `peer` will not deliver `cid`: when nobody else was asked, the block is free for another download too. */
  private withdraw (cid: CID, peerKey: string): void {
    this.dag.wants.withdrawn(cid, peerKey)
    if (this.dag.wants.isPending(cid.toString())) this.c.wants.unclaim(cid, this)
  }

  private onDropped (peer: PeerState): void {
    for (const { cid } of peer.inFlight.values()) this.withdraw(cid, peer.key)
    if (this.finished) return
    if (this.pool.size === 0) this.search.wake()
    this.scheduler.fillAll()
    this.progress()
  }

  private tick (): void {
    const now = Date.now()
    this.pool.checkStalls(now, this.controller.signal)
    // windows follow measured rates
    this.scheduler.fillAll()
    if (!this.searchNoticed && this.pool.size === 0 && now - this.lastProgress >= SEARCH_NOTICE_DELAY) {
      this.searchNoticed = true
      // the whole search's bound, which the error below names too: one figure for both
      this.init.onSearching?.(this.init.providerTimeout)
    }
    if (this.pool.isEmpty && this.pool.limitedHolders > 0 && now - this.lastProgress > LIMITED_ONLY_GRACE) {
      this.finish(new NoProvidersError(`${this.init.root.toString()} is held only by ${this.pool.limitedHolders} peer(s) reached through a relay that limits this peer (a relay carries transfers only between members of its own replication group)`))
    }
    if (now - this.lastProgress > this.init.providerTimeout) {
      const waited = formatDuration(this.init.providerTimeout / 1000)
      this.finish(this.pool.size === 0
        ? new NoProvidersError(`no reachable peer has ${this.init.root.toString()} (searched for ${waited})`)
        : new NoProvidersError(`no block of ${this.init.root.toString()} arrived for ${waited} from ${this.pool.size} peer(s)`))
    }
  }

  private finish (err?: Error): void {
    if (this.finished) return
    this.finished = true
    clearInterval(this.timer)
    this.controller.abort()
    this.scheduler.stop()
    this.link.close()
    this.pool.close()
    this.c.wants.leave(this)
    if (err != null) {
      this.done.reject(err)
    } else {
      this.done.resolve()
    }
  }
}
