import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { TypedEventEmitter } from 'main-event'
import * as Digest from 'multiformats/hashes/digest'
import { decodeCID } from '../content/dag.js'
import { NotFoundError, ReplicationError } from '../errors.js'
import { ReplicaOp, ReplicaState } from '../protocol/replica-network.js'
import { MAX_REPLICAS } from '../store/config.js'
import { anySignal, sleep } from '../signals.js'
import { byDistance } from './keyspace.js'
import { PeerLiveness } from './peer-liveness.js'
import { RepairQueue } from './repair-queue.js'
import { RootView } from './root-view.js'
import type { Assessment, Health, HolderState } from './root-view.js'
import type { ReplicaMessage, ReplicaNetwork, RootReplicas } from '../protocol/replica-network.js'
import type { ReplicationConfig } from '../store/config.js'
import type { ReplicaRecord, ReplicaStore } from '../store/replica-store.js'
import type { AbortOptions, ComponentLogger, Logger, PeerId, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface ReplicaManagerComponents {
  peerId: PeerId
  network: ReplicaNetwork
  store: ReplicaStore
  logger: ComponentLogger
  /**
   * Peers that may take a replica of `root`: connected ones, known speakers
   * of the protocol, and the root's closest peers in the DHT (always when
   * `thorough`, else only when few peers are known locally).
   */
  candidates(root: CID, options: AbortOptions & { thorough?: boolean }): Promise<PeerId[]>
  /** Whether the whole DAG is here (kept by the user or as a replica). */
  isComplete(root: CID): Promise<boolean>
  /** Keep a root that is already here as a replica (its pin gains the `replica` reason). */
  keepReplica(root: CID): Promise<void>
  /** Download the whole DAG (rate-limited), then keep it as a replica and announce it. */
  fetchReplica(root: CID, options: AbortOptions): Promise<void>
  /** Drop a replica: its pin loses the `replica` reason (any other reason keeps it). */
  releaseReplica(root: CID): Promise<void>
  /** Bytes stored now. */
  usedStorage(): Promise<number>
  /** Bytes free on the store's file system, and its size. */
  diskSpace(): Promise<{ free: number, total: number }>
}

export interface ReplicaManagerInit extends ReplicationConfig {
  /** Bytes this peer may store (0: unlimited). */
  maxStorage: number
}

export interface ReplicaEvents {
  change: CustomEvent<string>
}

export interface HolderStatus {
  peer: string
  /** `absent`: not answering, within the grace period; `gone`: past it. */
  state: HolderState | 'absent' | 'gone'
}

export interface ReplicaStatus {
  cid: string
  /** The replication factor wanted (K), and the most copies kept. */
  wanted: number
  max: number
  size: number
  health: Health
  /** Live holders with every block. */
  copies: number
  leader?: string
  holders: HolderStatus[]
  /** This peer holds it as a replica. */
  local: boolean
  /** The state of this peer's own copy, if it holds one. */
  self?: HolderState
}

/** Placement requests sent per root per round (the next round goes on). */
const MAX_ASKS_PER_ROUND = 8
/** A peer that declined a root is not asked again for it for this long (ms). */
const DECLINED_TTL = 60_000
/** Gossip naming a holder we just trimmed is ignored for this long (ms). */
const RELEASED_TTL = 60_000
/** How often a graceful stop checks whether its replicas are handed over (ms). */
const LEAVE_POLL = 500
const LEAVING_NOTICE_TIMEOUT = 2_000
/** Disk space no replica may take: this much, or this share of a small disk. */
const DISK_HEADROOM = 1024 * 1024 * 1024
const DISK_HEADROOM_SHARE = 0.05

/**
 * Keeps every root this peer holds as a replica at its replication factor.
 * Holders of a root probe each other every `checkInterval` over
 * `/shoal/replica/1.0.0` (never trusting provider records for liveness) and
 * gossip whom they know holds it. The live holder closest to the root in
 * the DHT key space leads: once a holder has been down for `gracePeriod`
 * it asks the closest live peers that do not hold the root to take it
 * (they download through the swarm, rate-limited, and pin), and once live
 * copies have exceeded `max` for `gracePeriod` it releases the farthest.
 * A graceful stop first hands its copies over, then says it is leaving.
 */
export class ReplicaManager implements Startable {
  /** `change` (detail: root CID string) whenever what we know of a root's copies changes. */
  readonly events = new TypedEventEmitter<ReplicaEvents>()
  private readonly c: ReplicaManagerComponents
  private readonly init: ReplicaManagerInit
  private readonly log: Logger
  private readonly self: string
  private readonly views = new Map<string, RootView>()
  private readonly records = new Map<string, ReplicaRecord>()
  private readonly liveness = new PeerLiveness()
  private readonly declined = new Map<string, number>()
  private readonly released = new Map<string, number>()
  private readonly placing = new Set<string>()
  private readonly dirty = new Set<string>()
  private readonly queue: RepairQueue
  private controller = new AbortController()
  private timer?: ReturnType<typeof setInterval>
  private ticking = false
  private leaving = false
  private departed = false
  /** Bytes promised to replicas still downloading. */
  private reserved = 0

  constructor (components: ReplicaManagerComponents, init: ReplicaManagerInit) {
    this.c = components
    this.init = init
    this.log = components.logger.forComponent('shoal:replicas')
    this.self = components.peerId.toString()
    this.queue = new RepairQueue(async (root, signal) => { await this.download(root, signal) }, init.maxConcurrentRepairs, this.log)
  }

  async start (): Promise<void> {
    this.controller = new AbortController()
    this.c.network.onRequest(async (peer, msg, signal) => await this.handle(peer, msg, signal))
    for await (const record of this.c.store.all()) {
      const view = this.track(record)
      for (const holder of record.holders) {
        if (holder !== this.self) view.set(peerIdFromString(holder), 'complete')
      }
      if (record.state === 'fetching') this.queue.enqueue(record.root)
    }
    this.timer = setInterval(() => { void this.tick() }, this.init.checkInterval)
    // tell the other holders at once that we are back
    if (this.views.size > 0) void this.tick()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.controller.abort(new Error('stopping'))
    this.queue.stop()
    await this.persist()
  }

  /** Replica downloads running now. */
  get activeRepairs (): number {
    return this.queue.active
  }

  /**
   * Place `min` copies of a root this peer holds on the `min` live peers
   * closest to it that accept (this peer among them if it is that close).
   * This peer's copy counts too until those are complete (the file never
   * hangs on peers still downloading it); if it is not among the closest, it
   * is trimmed then. Resolves once they accepted; they download in the
   * background.
   */
  async replicate (root: CID, intent: { min: number, max: number, size: number }, options: AbortOptions = {}): Promise<ReplicaStatus> {
    if (intent.min < 1 || intent.min > MAX_REPLICAS || intent.max < intent.min || intent.max > MAX_REPLICAS) {
      throw new ReplicationError(`replicas must satisfy 1 <= min <= max <= ${MAX_REPLICAS}`)
    }
    const existing = this.views.get(root.toString())
    if (existing != null) {
      existing.min = intent.min
      existing.max = intent.max
      this.changed(root.toString())
    } else {
      const signal = anySignal(this.controller.signal, options.signal)
      // this peer holds it and counts until the K closest have copies; then, if
      // it is not among them, it is trimmed like any surplus copy
      const view = this.track({ root, ...intent, state: 'complete', holders: [], created: Date.now() })
      // the periodic round must not place copies of its own meanwhile
      this.placing.add(root.toString())
      try {
        return await this.placeFirst(view, signal)
      } finally {
        this.placing.delete(root.toString())
      }
    }
    await this.persist()
    return this.describe(existing, true)
  }

  /** The first placement of a root this peer just started to replicate. */
  private async placeFirst (view: RootView, signal: AbortSignal): Promise<ReplicaStatus> {
    const root = view.root
    await this.c.keepReplica(root)
    this.changed(root.toString())
    // the first placement looks the root's neighbourhood up in the DHT
    const candidates = await this.c.candidates(root, { signal, thorough: true })
    const ordered = byDistance(root, [this.c.peerId, ...candidates.filter(p => !p.equals(this.c.peerId))].map(peer => ({ peer })))
    const holders: PeerId[] = []
    for (const { peer } of ordered) {
      if (holders.length >= view.min) break
      if (peer.equals(this.c.peerId)) {
        holders.push(peer)
        continue
      }
      const state = await this.ask(peer, view, ReplicaOp.REPLICATE, holders, signal)
      if (state === 'fetching' || state === 'complete') {
        holders.push(peer)
        view.set(peer, state)
        this.changed(root.toString())
      }
    }
    if (!holders.some(p => p.equals(this.c.peerId))) holders.push(this.c.peerId)
    // every holder learns of every other, including those placed after it
    await Promise.all(holders.filter(p => !p.equals(this.c.peerId)).map(async peer => {
      await this.ask(peer, view, ReplicaOp.STATUS, holders, signal).catch(() => {})
    }))
    if (holders.length < view.min) {
      this.log('only %d of %d peers took %s', holders.length, view.min, root)
    }
    await this.persist()
    return this.describe(view, true)
  }

  /** Where a root's copies are: from our own view if we hold it, else by asking its holders. */
  async status (root: CID, options: AbortOptions & { providers?(root: CID, options: AbortOptions): Promise<PeerId[]> } = {}): Promise<ReplicaStatus> {
    const view = this.views.get(root.toString())
    if (view != null) return this.describe(view, true)
    const signal = anySignal(AbortSignal.timeout(this.init.probeTimeout * 3), options.signal)
    const asked = new Set<string>()
    const found = new Map<string, RootReplicas>()
    const liveness = new PeerLiveness()
    let toAsk = await this.c.candidates(root, { signal }).catch(() => [] as PeerId[])
    if (options.providers != null) toAsk.push(...await options.providers(root, { signal }).catch(() => []))
    let intent: RootReplicas | undefined
    // ask every peer that may hold it, then every holder they name
    for (let round = 0; round < 3 && toAsk.length > 0; round++) {
      const next: PeerId[] = []
      await Promise.all(toAsk.filter(p => !asked.has(p.toString()) && !p.equals(this.c.peerId)).map(async peer => {
        asked.add(peer.toString())
        try {
          const response = await this.c.network.request(peer, { op: ReplicaOp.STATUS, roots: [blankEntry(root)] }, { signal, timeout: this.init.probeTimeout })
          liveness.seen(peer.toString())
          const entry = response.roots.find(r => decodeCID(r.root).equals(root))
          if (entry == null || (entry.state !== ReplicaState.FETCHING && entry.state !== ReplicaState.COMPLETE)) return
          found.set(peer.toString(), entry)
          intent ??= entry
          next.push(...entry.holders.map(bytesToPeer).filter((p): p is PeerId => p != null))
        } catch {
          liveness.failed(peer.toString())
        }
      }))
      toAsk = next
    }
    if (intent == null) {
      throw new NotFoundError(`no live holder of a replica of ${root.toString()} answered`)
    }
    const remote = new RootView(root, { min: intent.min, max: intent.max, size: Number(intent.size) })
    for (const [peer, entry] of found) remote.set(peerIdFromString(peer), entry.state === ReplicaState.COMPLETE ? 'complete' : 'fetching')
    return this.describe(remote, false, liveness)
  }

  /** Every root this peer holds as a replica. */
  list (): ReplicaStatus[] {
    return [...this.views.values()].map(view => this.describe(view, true))
  }

  /**
   * Graceful leave: make sure every root we hold keeps `min` live copies
   * without us (placing new ones if needed and waiting for them to
   * complete, at most `leaveTimeout`), then tell the other holders we go.
   */
  async leave (options: AbortOptions = {}): Promise<{ handedOver: number, unfinished: number }> {
    this.leaving = true
    clearInterval(this.timer)
    const signal = anySignal(AbortSignal.timeout(this.init.leaveTimeout), options.signal)
    const short = (view: RootView): number => {
      const a = view.assess(this.liveness, this.init.gracePeriod)
      return view.min - a.complete.filter(p => !p.equals(this.c.peerId)).length
    }
    const mine = [...this.views.values()].filter(v => v.holders.get(this.self)?.state === 'complete')
    let pending = mine.filter(v => short(v) > 0)
    const handedOver = pending.length
    while (pending.length > 0 && !signal.aborted) {
      for (const view of pending) {
        const a = view.assess(this.liveness, this.init.gracePeriod)
        const others = a.complete.length + a.fetching.length - 1
        if (others < view.min && !this.placing.has(view.root.toString())) {
          void this.place(view, view.min - others, signal)
        }
      }
      await sleep(LEAVE_POLL, signal).catch(() => {})
      await this.probeAll(new Set(pending.map(v => v.root.toString())))
      pending = pending.filter(v => short(v) > 0)
    }
    // from here on we answer as a peer that holds nothing
    this.departed = true
    const peers = new Map<string, PeerId>()
    for (const view of this.views.values()) {
      for (const { peer } of view.holders.values()) if (!peer.equals(this.c.peerId)) peers.set(peer.toString(), peer)
    }
    await Promise.all([...peers.values()].map(async peer => {
      await this.c.network.request(peer, { op: ReplicaOp.LEAVING, roots: [] }, { timeout: LEAVING_NOTICE_TIMEOUT }).catch(() => {})
    }))
    return { handedOver: handedOver - pending.length, unfinished: pending.length }
  }

  // ---- the periodic round ----

  private async tick (): Promise<void> {
    if (this.ticking || this.leaving) return
    this.ticking = true
    try {
      await this.probeAll()
      const now = Date.now()
      for (const view of this.views.values()) this.maintain(view, now)
      await this.persist()
    } catch (err: any) {
      this.log.error('replica round failed: %s', err.message)
    } finally {
      this.ticking = false
    }
  }

  /** Probe every other holder of our roots once, all at once. */
  private async probeAll (only?: Set<string>): Promise<void> {
    const byPeer = new Map<string, { peer: PeerId, views: RootView[] }>()
    for (const view of this.views.values()) {
      if (only != null && !only.has(view.root.toString())) continue
      for (const { peer } of view.holders.values()) {
        if (peer.equals(this.c.peerId)) continue
        const entry = byPeer.get(peer.toString()) ?? { peer, views: [] }
        entry.views.push(view)
        byPeer.set(peer.toString(), entry)
      }
    }
    await Promise.all([...byPeer.values()].map(async ({ peer, views }) => {
      const asked = Date.now()
      try {
        const response = await this.c.network.request(peer, {
          op: ReplicaOp.STATUS,
          roots: views.map(v => this.entryOf(v))
        }, { signal: this.controller.signal, timeout: this.init.probeTimeout })
        // it said goodbye while this answer was on its way: the goodbye wins
        if (this.liveness.leftAfter(peer.toString(), asked)) return
        const wasUp = this.liveness.isUp(peer.toString())
        this.liveness.seen(peer.toString())
        if (!wasUp) for (const v of views) this.changed(v.root.toString())
        this.mergeAll(peer, response.roots)
      } catch (err: any) {
        if (this.controller.signal.aborted) return
        if (this.liveness.isUp(peer.toString())) {
          this.log('holder %p did not answer: %s', peer, err.message)
          this.liveness.failed(peer.toString())
          for (const v of views) this.changed(v.root.toString())
        }
      }
    }))
  }

  /** The leader's duties for one root: replace holders gone too long, trim a lasting surplus. */
  private maintain (view: RootView, now: number): void {
    const a = view.assess(this.liveness, this.init.gracePeriod, now)
    // a holder gone past the grace period no longer counts; once replaced it is forgotten
    if (a.counted >= view.min) {
      for (const peer of a.gone) {
        view.remove(peer)
        this.changed(view.root.toString())
      }
    }
    // only a holder with every block leads: a peer that just took a copy
    // may not know yet who else was asked alongside it
    const leading = a.leader != null && a.leader.equals(this.c.peerId) && view.holders.get(this.self)?.state === 'complete'
    if (!leading) {
      view.overSince = undefined
      return
    }
    if (a.counted < view.min && now >= view.settledAt && !this.placing.has(view.root.toString())) {
      this.log('%s has %d of %d copies; placing %d', view.root, a.counted, view.min, view.min - a.counted)
      void this.place(view, view.min - a.counted, this.controller.signal)
    }
    if (a.complete.length > view.max && a.absent.length === 0) {
      view.overSince ??= now
      if (now - view.overSince >= this.init.gracePeriod) {
        const [drop] = view.surplus(a, this.c.peerId)
        if (drop != null) void this.trim(view, drop)
      }
    } else {
      view.overSince = undefined
    }
  }

  /** Ask the closest live non-holders to take `count` copies of a root. */
  private async place (view: RootView, count: number, signal: AbortSignal): Promise<number> {
    const key = view.root.toString()
    this.placing.add(key)
    let placed = 0
    try {
      const now = Date.now()
      const candidates = (await this.c.candidates(view.root, { signal })).filter(peer => {
        const k = peer.toString()
        return !peer.equals(this.c.peerId) && !view.has(k) && this.liveness.isUp(k) &&
          (this.declined.get(`${key}/${k}`) ?? 0) < now
      })
      let asked = 0
      for (const { peer } of byDistance(view.root, candidates.map(peer => ({ peer })))) {
        if (placed >= count || asked++ >= MAX_ASKS_PER_ROUND || signal.aborted) break
        const holders = [...view.holders.values()].map(h => h.peer).filter(p => this.liveness.isUp(p.toString()))
        const state = await this.ask(peer, view, ReplicaOp.REPLICATE, holders, signal)
        if (state === 'fetching' || state === 'complete') {
          view.set(peer, state)
          this.changed(key)
          placed++
          this.log('%p took a copy of %s (%s)', peer, view.root, state)
        } else if (state === 'declined') {
          this.declined.set(`${key}/${peer.toString()}`, Date.now() + DECLINED_TTL)
        }
      }
    } catch (err: any) {
      if (!signal.aborted) this.log('placing %s failed: %s', key, err.message)
    } finally {
      this.placing.delete(key)
    }
    return placed
  }

  private async trim (view: RootView, peer: PeerId): Promise<void> {
    const state = await this.ask(peer, view, ReplicaOp.RELEASE, [], this.controller.signal)
    if (state === 'none') {
      this.log('released the copy of %s on %p (more than %d)', view.root, peer, view.max)
      view.remove(peer)
      view.overSince = undefined
      this.released.set(`${view.root.toString()}/${peer.toString()}`, Date.now() + RELEASED_TTL)
      this.changed(view.root.toString())
    }
  }

  /** Send one request about one root; the peer's resulting state, or `unreachable`. */
  private async ask (peer: PeerId, view: RootView, op: ReplicaOp, holders: PeerId[], signal: AbortSignal): Promise<HolderState | 'none' | 'declined' | 'unreachable'> {
    try {
      const entry = { ...this.entryOf(view), holders: holders.filter(p => !p.equals(peer)).map(p => p.toMultihash().bytes) }
      // placing and releasing may wait on the peer's disk: they get the protocol's longer timeout
      const timeout = op === ReplicaOp.STATUS ? this.init.probeTimeout : undefined
      const response = await this.c.network.request(peer, { op, roots: [entry] }, { signal, timeout })
      this.liveness.seen(peer.toString())
      const answer = response.roots.find(r => decodeCID(r.root).equals(view.root))
      return stateName(answer?.state ?? ReplicaState.NONE)
    } catch (err: any) {
      if (!signal.aborted) {
        this.log('%p did not answer about %s: %s', peer, view.root, err.message)
        this.liveness.failed(peer.toString())
      }
      return 'unreachable'
    }
  }

  // ---- requests from other peers ----

  private async handle (peer: PeerId, msg: ReplicaMessage, signal: AbortSignal): Promise<ReplicaMessage> {
    this.liveness.seen(peer.toString())
    const roots: RootReplicas[] = []
    switch (msg.op) {
      case ReplicaOp.STATUS:
        if (this.departed) {
          roots.push(...msg.roots.map(entry => blankEntry(decodeCID(entry.root))))
          break
        }
        if (msg.roots.length === 0) {
          for (const view of this.views.values()) roots.push(this.entryOf(view))
        }
        for (const entry of msg.roots) {
          const root = decodeCID(entry.root)
          const view = this.views.get(root.toString())
          if (view == null) {
            roots.push(blankEntry(root))
            continue
          }
          this.merge(view, peer, entry)
          roots.push(this.entryOf(view))
        }
        break
      case ReplicaOp.REPLICATE:
        for (const entry of msg.roots) roots.push(await this.accept(peer, entry, signal))
        break
      case ReplicaOp.RELEASE:
        for (const entry of msg.roots) {
          const root = decodeCID(entry.root)
          await this.release(root)
          roots.push(blankEntry(root))
        }
        break
      case ReplicaOp.LEAVING:
        this.log('%p is leaving', peer)
        this.liveness.left(peer.toString())
        for (const view of this.views.values()) {
          if (view.remove(peer)) this.changed(view.root.toString())
        }
        break
      default:
        throw new ReplicationError(`unknown replica operation ${String(msg.op)}`)
    }
    return { op: msg.op, roots }
  }

  /** A REPLICATE: take the root unless we are leaving or it would not fit. */
  private async accept (from: PeerId, entry: RootReplicas, signal: AbortSignal): Promise<RootReplicas> {
    const root = decodeCID(entry.root)
    const existing = this.views.get(root.toString())
    if (existing != null) {
      this.merge(existing, from, entry)
      return this.entryOf(existing)
    }
    const decline = (reason: string): RootReplicas => ({ ...blankEntry(root), state: ReplicaState.DECLINED, reason })
    if (this.leaving) return decline('leaving')
    const min = Math.min(Math.max(entry.min, 1), MAX_REPLICAS)
    const max = Math.min(Math.max(entry.max, min), MAX_REPLICAS)
    const size = Number(entry.size)
    const pinned = await this.c.isComplete(root)
    if (!pinned && this.init.maxStorage > 0) {
      const used = await this.c.usedStorage()
      if (used + this.reserved + size > this.init.maxStorage) {
        this.log('declining %s from %p: %d bytes would exceed the storage limit', root, from, size)
        return decline('storage full')
      }
    }
    if (!pinned) {
      // whatever the limit, a replica never fills the disk: some headroom stays free
      const { free, total } = await this.c.diskSpace()
      if (this.reserved + size > free - Math.min(DISK_HEADROOM, total * DISK_HEADROOM_SHARE)) {
        this.log('declining %s from %p: %d bytes would nearly fill the disk', root, from, size)
        return decline('disk full')
      }
    }
    signal.throwIfAborted()
    const record: ReplicaRecord = {
      root,
      min,
      max,
      size,
      state: pinned ? 'complete' : 'fetching',
      holders: [],
      created: Date.now()
    }
    const view = this.track(record)
    // hear from the rest of the placement before judging the count
    view.settledAt = Date.now() + 2 * this.init.checkInterval
    this.merge(view, from, entry)
    this.changed(root.toString())
    await this.persist()
    if (pinned) {
      await this.c.keepReplica(root)
    } else {
      this.reserved += size
      this.queue.enqueue(root)
    }
    this.log('took a copy of %s for %p (%s)', root, from, record.state)
    return this.entryOf(view)
  }

  /** Stop holding a root (the user removed it); the other holders repair. */
  async drop (root: CID): Promise<boolean> {
    const held = this.records.has(root.toString())
    await this.release(root)
    return held
  }

  private async release (root: CID): Promise<void> {
    const record = this.records.get(root.toString())
    if (record == null) return
    this.queue.cancel(root)
    if (record.state === 'fetching') this.reserved -= record.size
    this.views.delete(root.toString())
    this.records.delete(root.toString())
    this.dirty.delete(root.toString())
    await this.c.store.delete(root)
    await this.c.releaseReplica(root)
    this.events.safeDispatchEvent('change', { detail: root.toString() })
    this.log('released our copy of %s', root)
  }

  /** A replica we accepted: fetch it, then count ourselves complete. */
  private async download (root: CID, signal: AbortSignal): Promise<void> {
    await this.c.fetchReplica(root, { signal })
    const record = this.records.get(root.toString())
    const view = this.views.get(root.toString())
    if (record == null || view == null) return
    record.state = 'complete'
    this.reserved -= record.size
    view.set(this.c.peerId, 'complete')
    this.changed(root.toString())
    await this.persist()
    this.log('holding a complete copy of %s', root)
  }

  // ---- views, gossip and records ----

  private track (record: ReplicaRecord): RootView {
    const view = new RootView(record.root, record)
    view.set(this.c.peerId, record.state)
    this.views.set(record.root.toString(), view)
    this.records.set(record.root.toString(), record)
    return view
  }

  private mergeAll (from: PeerId, entries: RootReplicas[]): void {
    for (const entry of entries) {
      const view = this.views.get(decodeCID(entry.root).toString())
      if (view != null) this.merge(view, from, entry)
    }
  }

  /** Fold what `from` says about a root into our view. */
  private merge (view: RootView, from: PeerId, entry: RootReplicas): void {
    const key = view.root.toString()
    const before = view.holders.size
    if (entry.state === ReplicaState.FETCHING || entry.state === ReplicaState.COMPLETE) {
      const state = entry.state === ReplicaState.COMPLETE ? 'complete' : 'fetching'
      const was = view.holders.get(from.toString())?.state
      view.set(from, state)
      if (was !== state) this.changed(key)
    } else if (view.remove(from)) {
      this.changed(key)
    }
    const now = Date.now()
    for (const bytes of entry.holders) {
      const peer = bytesToPeer(bytes)
      if (peer == null || peer.equals(this.c.peerId) || view.has(peer.toString())) continue
      const k = peer.toString()
      // gossip lags: never resurrect a holder just trimmed or long gone
      if ((this.released.get(`${key}/${k}`) ?? 0) > now) continue
      if (this.liveness.downFor(k, now) >= this.init.gracePeriod) continue
      view.set(peer, 'fetching')
    }
    if (view.holders.size !== before) this.changed(key)
  }

  private entryOf (view: RootView): RootReplicas {
    const own = view.holders.get(this.self)?.state
    return {
      root: view.root.bytes,
      min: view.min,
      max: view.max,
      size: BigInt(view.size),
      state: own === 'complete' ? ReplicaState.COMPLETE : own === 'fetching' ? ReplicaState.FETCHING : ReplicaState.NONE,
      // only holders believed alive are passed on, so the dead are not resurrected
      holders: [...view.holders.values()]
        .filter(h => !h.peer.equals(this.c.peerId) && this.liveness.isUp(h.peer.toString()))
        .map(h => h.peer.toMultihash().bytes),
      reason: ''
    }
  }

  private describe (view: RootView, local: boolean, liveness = this.liveness): ReplicaStatus {
    const a: Assessment = view.assess(liveness, this.init.gracePeriod)
    const holders: HolderStatus[] = [
      ...a.complete.map(p => ({ peer: p.toString(), state: 'complete' as const })),
      ...a.fetching.map(p => ({ peer: p.toString(), state: 'fetching' as const })),
      ...a.absent.map(p => ({ peer: p.toString(), state: 'absent' as const })),
      ...a.gone.map(p => ({ peer: p.toString(), state: 'gone' as const }))
    ]
    return {
      cid: view.root.toString(),
      wanted: view.min,
      max: view.max,
      size: view.size,
      health: a.health,
      copies: a.complete.length,
      leader: a.leader?.toString(),
      holders,
      local: local && view.has(this.self),
      self: local ? view.holders.get(this.self)?.state : undefined
    }
  }

  /** A root's view or record changed: save it at the end of the round, tell listeners now. */
  private changed (root: string): void {
    this.dirty.add(root)
    this.events.safeDispatchEvent('change', { detail: root })
  }

  private async persist (): Promise<void> {
    for (const key of [...this.dirty]) {
      this.dirty.delete(key)
      const view = this.views.get(key)
      const record = this.records.get(key)
      if (view == null || record == null) continue
      record.min = view.min
      record.max = view.max
      record.holders = [...view.holders.keys()].filter(k => k !== this.self)
      await this.c.store.put(record).catch(err => {
        this.log.error('cannot save the replica record of %s: %s', key, err.message)
        this.dirty.add(key)
      })
    }
  }
}

function blankEntry (root: CID): RootReplicas {
  return { root: root.bytes, min: 0, max: 0, size: 0n, state: ReplicaState.NONE, holders: [], reason: '' }
}

function stateName (state: ReplicaState): HolderState | 'none' | 'declined' {
  switch (state) {
    case ReplicaState.COMPLETE: return 'complete'
    case ReplicaState.FETCHING: return 'fetching'
    case ReplicaState.DECLINED: return 'declined'
    default: return 'none'
  }
}

function bytesToPeer (bytes: Uint8Array): PeerId | undefined {
  try {
    return peerIdFromMultihash(Digest.decode(bytes))
  } catch {
    return undefined
  }
}
