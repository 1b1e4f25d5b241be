import { decodeCID } from '../content/dag.js'
import { MAX_KNOWN_HOLDERS, RELEASED_TTL } from './constants.js'
import { CID } from 'multiformats/cid'
import { bytesToPeer, fragmentFrom, holderState } from './codec.js'
import { expire } from './expiry.js'
import { RootView } from './root-view.js'
import { SyncLedger } from './sync-ledger.js'
import type { PeerLiveness } from './peer-liveness.js'
import type { RootReplicas } from '../protocol/replica-network.js'
import type { ReplicaRecord, ReplicaStore } from '../store/replica-store.js'
import type { Logger, PeerId } from '@libp2p/interface'

export interface ReplicaBookComponents {
  self: PeerId
  store: ReplicaStore
  liveness: PeerLiveness
  log: Logger
  /** Told whenever what we know of a root's copies changes. */
  onChange(root: string): void
}

/**
 * The roots this peer keeps as replicas: a record each (the promise, kept
 * in the repo) and a view each (what we know of the other holders), with
 * gossip folded in and changes saved at the end of each round; and, per
 * peer, where our syncs of those views stand (`sync`).
 */
export class ReplicaBook {
  readonly views = new Map<string, RootView>()
  /** What each peer acknowledged of our entries, and what we keep of its. */
  readonly sync = new SyncLedger()
  private readonly records = new Map<string, ReplicaRecord>()
  private readonly dirty = new Set<string>()
  /** Holders we just trimmed: gossip naming them is ignored until then (ms). */
  private readonly released = new Map<string, number>()

  constructor (private readonly c: ReplicaBookComponents) {}

  /** Start keeping a root (or load its record after a restart). */
  track (record: ReplicaRecord): RootView {
    const erasure = record.erasure == null ? undefined : { k: record.erasure.k, m: record.erasure.m, layout: CID.parse(record.erasure.layout) }
    const view = new RootView(record.root, record, erasure)
    view.set(this.c.self, record.state, undefined, record.fragment)
    this.views.set(record.root.toString(), view)
    this.records.set(record.root.toString(), record)
    return view
  }

  get (root: CID | string): RootView | undefined {
    return this.views.get(root.toString())
  }

  record (root: CID | string): ReplicaRecord | undefined {
    return this.records.get(root.toString())
  }

  /** Records of replicas still downloading. */
  fetching (): ReplicaRecord[] {
    return [...this.records.values()].filter(r => r.state === 'fetching')
  }

  /** Stop keeping a root; returns its record, if we kept it. */
  async forget (root: CID): Promise<ReplicaRecord | undefined> {
    const key = root.toString()
    const record = this.records.get(key)
    if (record == null) return undefined
    this.views.delete(key)
    this.records.delete(key)
    this.dirty.delete(key)
    await this.c.store.delete(root)
    this.c.onChange(key)
    return record
  }

  /** Our own copy of a root is complete. */
  completed (root: CID): void {
    const record = this.records.get(root.toString())
    const view = this.views.get(root.toString())
    if (record == null || view == null) return
    record.state = 'complete'
    view.set(this.c.self, 'complete')
    this.changed(root.toString())
  }

  /**
   * We forget `peer` as a holder of the view's root (gone past the grace
   * period): if it still holds the root after all, its next sync finds we
   * no longer keep its entry and sends it again.
   */
  forgetHolder (view: RootView, peer: PeerId): void {
    view.remove(peer)
    this.sync.forgetHeard(peer.toString(), view.root.toString())
    this.changed(view.root.toString())
  }

  /** We released `peer`'s copy: ignore gossip that still names it for a while. */
  releasedFrom (view: RootView, peer: PeerId): void {
    view.remove(peer)
    expire(this.released, Date.now())
    this.released.set(`${view.root.toString()}/${peer.toString()}`, Date.now() + RELEASED_TTL)
    this.changed(view.root.toString())
  }

  /** Fold what `from`, a member of our group, says about a root into our view. */
  merge (view: RootView, from: PeerId, entry: RootReplicas, gracePeriod: number): void {
    const key = view.root.toString()
    const state = holderState(entry)
    const total = view.erasure == null ? 0 : view.erasure.k + view.erasure.m
    if (state != null) {
      const was = view.holders.get(from.toString())
      const fragment = fragmentFrom(entry.fragment, total)
      view.set(from, state, Number(entry.bytesHeld), fragment)
      if (was?.state !== state || was?.fragment !== fragment) this.changed(key)
    } else if (view.remove(from)) {
      this.changed(key)
    }
    // an erasure-coded root's intent (K + M fragments) is fixed when it is coded
    if (view.erasure == null && view.adopt({ min: entry.min, max: entry.max, size: view.size, intentSince: Number(entry.intentSince) })) {
      this.c.log('%s: now keeping %d copies (at most %d), as %p says', key, view.min, view.max, from)
      this.changed(key)
    }
    const now = Date.now()
    for (const [i, bytes] of entry.holders.entries()) {
      const peer = bytesToPeer(bytes)
      if (peer == null || peer.equals(this.c.self)) continue
      const k = peer.toString()
      // gossip lags: never resurrect a holder just trimmed
      if ((this.released.get(`${key}/${k}`) ?? 0) > now) continue
      // `from` lists only holders its last probe reached: if we cannot reach it, it is slow or
      // cut off from us, not gone; and one we had given up on (a healed partition) is back
      this.c.liveness.vouched(k)
      const known = view.holders.get(k)
      if (known != null) {
        // a holder first heard of without its fragment learns it from the next who names it
        const fragment = fragmentFrom(entry.holderFragments[i], total)
        if (known.fragment == null && fragment != null) view.set(peer, known.state, known.bytesHeld, fragment)
        continue
      }
      // a peer that said it was leaving stays gone
      if (!this.c.liveness.stillCounts(k, gracePeriod, now)) continue
      if (view.holders.size >= MAX_KNOWN_HOLDERS) continue
      view.set(peer, 'fetching', undefined, fragmentFrom(entry.holderFragments[i], total))
      this.changed(key)
    }
  }

  /** Fold every entry of an answer from `from` into the views it concerns. */
  mergeAll (from: PeerId, entries: RootReplicas[], gracePeriod: number): void {
    for (const entry of entries) {
      const view = this.views.get(decodeCID(entry.root).toString())
      if (view != null) this.merge(view, from, entry, gracePeriod)
    }
  }

  /** A root's view or record changed: save it at the end of the round, tell listeners now. */
  changed (root: string): void {
    this.dirty.add(root)
    this.c.onChange(root)
  }

  /** What a root's status shows changed (a holder's liveness), not its record: tell listeners, save nothing. */
  touched (root: string): void {
    this.c.onChange(root)
  }

  async persist (): Promise<void> {
    for (const key of [...this.dirty]) {
      this.dirty.delete(key)
      const view = this.views.get(key)
      const record = this.records.get(key)
      if (view == null || record == null) continue
      record.min = view.min
      record.max = view.max
      record.intentSince = view.intentSince
      record.holders = [...view.holders.keys()].filter(k => k !== this.c.self.toString())
      if (view.erasure != null) {
        record.holderFragments = Object.fromEntries([...view.holders.values()].filter(h => h.fragment != null && !h.peer.equals(this.c.self)).map(h => [h.peer.toString(), h.fragment!]))
      }
      await this.c.store.put(record).catch(err => {
        this.c.log.error('cannot save the replica record of %s: %s', key, err.message)
        this.dirty.add(key)
      })
    }
  }
}
