import { peerIdFromString } from '@libp2p/peer-id'
import { AbortError } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { ReplicationError } from '../errors.js'
import { MAX_REPLICAS } from '../replication/constants.js'
import { anySignal } from '../signals.js'
import { Admission } from './admission.js'
import { ReplicaBook } from './book.js'
import { ReplicaClient } from './client.js'
import { entryOf } from './codec.js'
import { HANDLERS } from './handlers/index.js'
import { HandOver } from './hand-over.js'
import { Leadership } from './leadership.js'
import { Reconciler } from './reconciler.js'
import { PeerLiveness } from './peer-liveness.js'
import { Placement } from './placement.js'
import { RelayHello } from './relay-hello.js'
import { Prober } from './prober.js'
import { RepairQueue } from './repair-queue.js'
import { StatusQuery } from './status-query.js'
import type { HandOverResult } from './hand-over.js'
import type { HandlerContext } from './handlers/index.js'
import type { ReplicationGroup } from './group.js'
import type { ReplicaEvents } from './events.js'
import { describeView } from './status-view.js'
import type { ErasureIntent, RootView } from './root-view.js'
import type { ReplicaStatus } from './status-view.js'
import type { RelayHelloComponents } from './relay-hello.js'
import type { ReplicaMessage, ReplicaNetwork } from '../protocol/replica-network.js'
import type { ReplicaStore } from '../store/replica-store.js'
import type { AbortOptions, ComponentLogger, Logger, PeerId, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface ReplicaManagerComponents {
  peerId: PeerId
  network: ReplicaNetwork
  store: ReplicaStore
  logger: ComponentLogger
  /** Who may make us keep copies, and whom we may ask. */
  group: ReplicationGroup
  /** Peers that may take a replica of `root` (see PlacementComponents). */
  candidates(root: CID, options: AbortOptions & { thorough?: boolean }): Promise<PeerId[]>
  /** Peers the DHT names as holders of `root` (asked by status queries). */
  providers(root: CID, options: AbortOptions): Promise<PeerId[]>
  /** The addresses we know of a peer, for people. */
  addressesOf(peer: PeerId): Promise<string[]>
  /** Whether the whole DAG is here (kept by the user or as a replica). */
  isComplete(root: CID): Promise<boolean>
  /** Keep a root that is already here as a replica (its pin gains the `replica` reason). */
  keepReplica(root: CID): Promise<void>
  /**
   * Download the whole DAG (rate-limited), then keep it as a replica and
   * announce it; of an erasure-coded root, our fragment (fetched or rebuilt),
   * telling `onColumn` a parity fragment's column root before letting go of it.
   */
  fetchReplica(root: CID, options: AbortOptions & { onProgress?(bytes: number): void, onColumn?(column: CID): Promise<void> }): Promise<void>
  /** Drop a replica: its pin loses the `replica` reason (any other reason keeps it). */
  releaseReplica(root: CID): Promise<void>
  /** Bytes stored now. */
  usedStorage(): Promise<number>
  /** Bytes free on the store's file system, and its size. */
  diskSpace(): Promise<{ free: number, total: number }>
  /** Relays we connect to (see RelayHello). */
  watchRelays: RelayHelloComponents['watchRelays']
  isConnected(peer: PeerId): boolean
}

export interface ReplicaManagerInit {
  /** How often holders of a root probe each other (ms). */
  checkInterval: number
  /** A probe unanswered for this long is a failure (ms). */
  probeTimeout: number
  /** A holder down this long is replaced; a surplus copy this long is trimmed (ms). */
  gracePeriod: number
  /** Replica downloads running at once. */
  maxConcurrentRepairs: number
  /** How long a graceful stop waits for its replicas to be handed over (ms). */
  leaveTimeout: number
  /** Bytes this peer may store (0: unlimited). */
  maxStorage: number
  /** Fragments of an erasure-coded root that may stay missing past the grace period before it is repaired (default: ⌊(M − 1) / 2⌋). */
  erasureLazy?: number
}

/** What `add --replicas` or `replicate` says without a replication group. */
export const NO_GROUP = 'replication needs a replication group: give every peer that may keep copies the same --group-key FILE (make one with: shoal group-key > group.key), or list trusted peers with --trust PEERID'

/**
 * Keeps every root this peer holds as a replica at its replication factor,
 * together with the other holders, who are all members of one replication
 * group. Holders probe each other every `checkInterval` (Prober), fold what
 * they hear into their views (ReplicaBook), and the live holder closest to
 * the root leads: it places copies while fewer than K count and releases a
 * lasting surplus (Leadership, RootView.duties, Placement). Requests from
 * other peers go to one handler per operation (handlers/); what fits is
 * decided by Admission; a graceful stop hands copies over first (HandOver).
 *
 * The coordinator only: it wires those parts and holds the operations the
 * node calls (replicate, status, list, leave, drop). A third of its ~320
 * lines are the components' and status types above.
 */
export class ReplicaManager implements Startable {
  readonly events = new TypedEventEmitter<ReplicaEvents>()
  private readonly c: ReplicaManagerComponents
  private readonly init: ReplicaManagerInit
  private readonly log: Logger
  private readonly liveness = new PeerLiveness()
  private readonly book: ReplicaBook
  private readonly client: ReplicaClient
  private readonly prober: Prober
  private readonly placement: Placement
  private readonly handOver: HandOver
  private readonly statusQuery: StatusQuery
  private readonly queue: RepairQueue
  private readonly leadership: Leadership
  /** Finds, through the DHT, holders a root's view lost. */
  private readonly reconciler: Reconciler
  private readonly relayHello: RelayHello
  private readonly context: HandlerContext
  /** Bytes our unfinished copies hold, by root. */
  private readonly progress = new Map<string, number>()
  private controller = new AbortController()
  private timer?: ReturnType<typeof setInterval>
  private ticking = false
  private leaving = false
  private departed = false

  constructor (components: ReplicaManagerComponents, init: ReplicaManagerInit) {
    this.c = components
    this.init = init
    this.log = components.logger.forComponent('shoal:replicas')
    const self = components.peerId
    this.book = new ReplicaBook({ self, store: components.store, liveness: this.liveness, log: this.log, onChange: root => { this.events.safeDispatchEvent('change', { detail: root }) } })
    this.client = new ReplicaClient({ self, network: components.network, group: components.group, liveness: this.liveness, log: this.log })
    const shared = { self, client: this.client, book: this.book, liveness: this.liveness, events: this.events, log: this.log }
    this.prober = new Prober({
      ...shared,
      bytesHeld: root => this.progress.get(root) ?? 0,
      traffic: components.network.traffic,
      roundLog: components.logger.forComponent('shoal:replica-rounds')
    }, init)
    this.placement = new Placement({ ...shared, candidates: components.candidates })
    this.relayHello = new RelayHello({ group: components.group, client: this.client, watchRelays: components.watchRelays, isConnected: components.isConnected, log: this.log })
    this.reconciler = new Reconciler({ ...shared, providers: components.providers, bytesHeld: root => this.progress.get(root) ?? 0 }, init)
    this.leadership = new Leadership({ ...shared, placement: this.placement, signal: () => this.controller.signal }, init)
    this.handOver = new HandOver({ ...shared, placement: this.placement, prober: this.prober }, init)
    this.statusQuery = new StatusQuery({
      self,
      network: components.network,
      // both at once, the DHT's part bounded: a lookup stuck on an unreachable peer must not
      // eat the whole query's time, or nobody would be asked at all
      firstAsk: async (root, options) => (await Promise.all([
        components.candidates(root, options).catch(() => []),
        components.providers(root, { signal: anySignal(AbortSignal.timeout(init.probeTimeout), options.signal) }).catch(() => [])
      ])).flat()
    }, init.probeTimeout)
    this.queue = new RepairQueue(async (root, signal) => { await this.download(root, signal) }, init.maxConcurrentRepairs, this.log, (root, err, retryIn) => {
      this.events.safeDispatchEvent('replica:failed', { detail: { root: root.toString(), error: err.message, retryIn } })
      // content that can never be fetched (past the bounds of a DAG) is given up: the other holders place it elsewhere or not at all
      if (retryIn == null) void this.release(root, 'refused content').catch(e => { this.log.error('releasing %s failed: %s', root, e.message) })
    })
    const admission = new Admission({
      usedStorage: async () => await this.c.usedStorage(),
      diskSpace: async () => await this.c.diskSpace(),
      reserved: () => this.book.fetching().reduce((n, r) => n + r.size, 0)
    }, init)
    this.context = {
      ...shared,
      admission,
      gracePeriod: init.gracePeriod,
      checkInterval: init.checkInterval,
      leaving: () => this.leaving,
      departed: () => this.departed,
      isComplete: components.isComplete,
      keepReplica: components.keepReplica,
      download: root => { this.queue.enqueue(root) },
      release: async (root, by) => { await this.release(root, by) },
      syncedBy: peer => { this.prober.syncedBy(peer) },
      reachable: () => this.prober.reachable(),
      entry: view => this.entry(view),
      persist: async () => { await this.book.persist() }
    }
  }

  async start (): Promise<void> {
    this.controller = new AbortController()
    await this.c.network.onRequest(async (peer, msg, signal) => await this.handle(peer, msg, signal))
    for await (const record of this.c.store.all()) {
      const view = this.book.track(record)
      for (const holder of record.holders) {
        if (holder !== this.c.peerId.toString()) view.set(peerIdFromString(holder), 'complete', undefined, record.holderFragments?.[holder])
      }
      if (record.state === 'fetching') this.queue.enqueue(record.root)
    }
    this.timer = setInterval(() => { void this.tick() }, this.init.checkInterval)
    await this.relayHello.start()
    // tell the other holders at once that we are back
    if (this.book.views.size > 0) void this.tick()
  }

  async stop (): Promise<void> {
    await this.c.network.onRequest(undefined)
    this.relayHello.stop()
    clearInterval(this.timer)
    this.controller.abort(new AbortError('stopping'))
    this.queue.stop()
    await this.book.persist()
  }

  /** Whether this peer belongs to a replication group (and so may replicate). */
  get inGroup (): boolean {
    return this.c.group.exists
  }

  /** Replica downloads running now. */
  get activeRepairs (): number {
    return this.queue.active
  }

  /**
   * Keep `min` copies of a root this peer holds whole, at most `max`: place
   * them on the `min` live peers closest to it that accept (this peer among
   * them if it is that close). This peer's copy counts too until those are
   * complete (the root never hangs on peers still downloading it); if it is
   * not among the closest, it is trimmed then. For a root already kept, the
   * new intent replaces the old one on every holder. Resolves once the
   * peers asked accepted; they download in the background.
   */
  async replicate (root: CID, intent: { min: number, max: number, size: number, erasure?: ErasureIntent, parity?: CID[] }, options: AbortOptions = {}): Promise<ReplicaStatus> {
    if (!this.c.group.exists) throw new ReplicationError(NO_GROUP)
    if (intent.erasure != null) return await this.replicateCoded(root, { size: intent.size, erasure: intent.erasure, parity: intent.parity ?? [] }, options)
    if (intent.min < 1 || intent.min > MAX_REPLICAS || intent.max < intent.min || intent.max > MAX_REPLICAS) {
      throw new ReplicationError(`replicas must satisfy 1 <= min <= max <= ${MAX_REPLICAS}`)
    }
    const existing = this.book.get(root)
    if (existing?.erasure != null) throw new ReplicationError(`${root.toString()} is kept erasure-coded (${existing.erasure.k}+${existing.erasure.m}); it cannot be kept in copies as well`)
    if (existing != null) {
      existing.setIntent({ min: intent.min, max: intent.max, intentSince: Date.now() })
      this.book.changed(root.toString())
      await this.book.persist()
      return this.describe(existing)
    }
    const view = this.book.track({ root, min: intent.min, max: intent.max, size: intent.size, intentSince: Date.now(), state: 'complete', holders: [], created: Date.now() })
    // the periodic round places nothing until the first placement is done
    view.settledAt = Infinity
    try {
      await this.c.keepReplica(root)
      this.book.changed(root.toString())
      const holders = await this.placement.first(view, anySignal(this.controller.signal, options.signal))
      if (holders.length < intent.min) this.log('only %d of %d peers took %s', holders.length, intent.min, root)
    } finally {
      view.settledAt = Date.now()
    }
    await this.book.persist()
    return this.describe(view)
  }

  /**
   * Keep a root this peer holds whole, and has coded (its layout and parity
   * stored here), as K + M fragments: fragment i on the i-th closest live
   * peer that takes one (this peer among them if it is that close), each on
   * a different peer. This peer keeps a fragment only if it is among them.
   */
  private async replicateCoded (root: CID, intent: { size: number, erasure: ErasureIntent, parity: CID[] }, options: AbortOptions): Promise<ReplicaStatus> {
    const { k, m, layout } = intent.erasure
    const existing = this.book.get(root)
    if (existing != null) {
      if (existing.erasure?.k === k && existing.erasure.m === m) return this.describe(existing)
      throw new ReplicationError(`${root.toString()} is already kept ${existing.erasure == null ? `in ${existing.min} copies` : `as ${existing.erasure.k}+${existing.erasure.m}`}; release it first (shoal rm) to keep it otherwise`)
    }
    const self = this.c.peerId
    const view = this.book.track({ root, min: k + m, max: k + m, size: intent.size, intentSince: Date.now(), state: 'complete', holders: [], created: Date.now(), erasure: { k, m, layout: layout.toString() } })
    // the adder keeps a fragment only if placement gives it one
    view.remove(self)
    view.settledAt = Infinity
    try {
      const holders = await this.placement.first(view, anySignal(this.controller.signal, options.signal))
      if (holders.length < k + m) this.log('only %d of %d peers took a fragment of %s', holders.length, k + m, root)
    } finally {
      view.settledAt = Date.now()
    }
    const status = this.describe(view)
    const fragment = view.holders.get(self.toString())?.fragment
    if (fragment == null) {
      await this.book.forget(root)
    } else {
      const record = this.book.record(root)!
      record.fragment = fragment
      // a parity fragment of ours: its column, coded here, is kept with the record
      const column = fragment >= k ? intent.parity[fragment - k] : undefined
      if (column != null) record.column = column.toString()
      this.book.changed(root.toString())
      await this.book.persist()
    }
    return status
  }

  /**
   * Where a root's copies are: from our own view if we hold it, else by
   * asking its holders (undefined if none answered). Holders come with the
   * addresses we know.
   */
  async status (root: CID, options: AbortOptions = {}): Promise<ReplicaStatus | undefined> {
    const view = this.book.get(root)
    const status = view != null
      ? this.describe(view)
      : await this.statusQuery.query(root, options).then(r => r == null ? undefined : this.describe(r.view, r.liveness))
    if (status == null) return undefined
    await Promise.all(status.holders.map(async h => { h.addresses = await this.c.addressesOf(peerIdFromString(h.peer)).catch(() => []) }))
    return status
  }

  /** Every root this peer holds as a replica. */
  list (): ReplicaStatus[] {
    return [...this.book.views.values()].map(view => this.describe(view))
  }

  /** Graceful leave: hand our copies over (at most `leaveTimeout`), then say goodbye. */
  async leave (options: AbortOptions = {}): Promise<HandOverResult> {
    this.leaving = true
    clearInterval(this.timer)
    const result = await this.handOver.leave(options)
    // from here on we answer as a peer that holds nothing
    this.departed = true
    return result
  }

  /** Stop holding a root (the user removed it); the other holders repair. Whether we held it. */
  async drop (root: CID): Promise<boolean> {
    return await this.release(root, 'user')
  }

  // ---- the periodic round ----

  private async tick (): Promise<void> {
    if (this.ticking || this.leaving) return
    this.ticking = true
    try {
      const figures = await this.prober.probeAll(this.controller.signal)
      this.events.safeDispatchEvent('probe:round', { detail: figures })
      const now = Date.now()
      const led: RootView[] = []
      for (const view of this.book.views.values()) {
        this.leadership.maintain(view, now)
        if (view.leadingSince != null) led.push(view)
      }
      // the leader also looks for holders its view lost (in the background: a DHT look-up is slow)
      void this.reconciler.reconcileDue(led, now, this.controller.signal)
      await this.book.persist()
    } catch (err: any) {
      this.log.error('replica round failed: %s', err.message)
    } finally {
      this.ticking = false
    }
  }

  // ---- requests from other peers ----

  private async handle (peer: PeerId, msg: ReplicaMessage, signal: AbortSignal): Promise<ReplicaMessage> {
    const member = this.c.group.admits(msg, peer, this.c.peerId)
    if (member) this.liveness.seen(peer.toString())
    const handler = HANDLERS[msg.op]
    if (handler == null) throw new ReplicationError(`unknown replica operation ${String(msg.op)}`)
    const answer = await handler(this.context, peer, msg, member, signal)
    return this.c.group.seal({ op: msg.op, ...answer, proof: new Uint8Array(0) }, this.c.peerId, peer)
  }

  /** Stop keeping a root as a replica; whether we kept it. */
  private async release (root: CID, by: string): Promise<boolean> {
    // a download under way ends first: nothing of it (a pin, an announcement) lands after the release
    await this.queue.cancel(root)
    this.progress.delete(root.toString())
    this.reconciler.drop(root.toString())
    const record = await this.book.forget(root)
    if (record == null) return false
    await this.c.releaseReplica(root)
    this.log('released our copy of %s', root)
    this.events.safeDispatchEvent('replica:released', { detail: { root: root.toString(), by } })
    return true
  }

  /** A replica we accepted: fetch it, then count ourselves complete. */
  private async download (root: CID, signal: AbortSignal): Promise<void> {
    const started = Date.now()
    const key = root.toString()
    // a parity column is recorded (kept from gc) before the download lets its own hold go
    const onColumn = async (column: CID): Promise<void> => {
      const held = this.book.record(root)
      if (held == null) return
      held.column = column.toString()
      this.book.changed(key)
      await this.book.persist()
    }
    await this.c.fetchReplica(root, { signal, onColumn, onProgress: bytes => { this.progress.set(key, bytes) } })
    this.progress.delete(key)
    const record = this.book.record(root)
    if (record == null) return
    this.book.completed(root)
    await this.book.persist()
    this.log('holding a complete copy of %s', root)
    this.events.safeDispatchEvent('replica:complete', { detail: { root: key, seconds: (Date.now() - started) / 1000 } })
  }

  private entry (view: RootView): ReturnType<typeof entryOf> {
    return entryOf(view, this.c.peerId, this.liveness, this.progress.get(view.root.toString()) ?? 0)
  }

  private describe (view: RootView, liveness = this.liveness): ReplicaStatus {
    return describeView(view, { self: this.c.peerId, liveness, ownLiveness: this.liveness, gracePeriod: this.init.gracePeriod, progress: this.progress.get(view.root.toString()) })
  }
}
