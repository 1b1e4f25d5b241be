import { FORGET_AFTER_GRACE_PERIODS, SETTLE_ROUNDS } from './constants.js'
import type { ReplicaComponents } from './components.js'
import type { Placement } from './placement.js'
import type { RootView } from './root-view.js'

export interface LeadershipComponents extends Omit<ReplicaComponents, 'client'> {
  placement: Placement
  /** Aborted when replication stops. */
  signal(): AbortSignal
}

export interface LeadershipInit {
  gracePeriod: number
  checkInterval: number
  /** Of an erasure-coded root: fragments that may stay missing past the grace period before the leader rebuilds them (default: `lazyFragments`). */
  erasureLazy?: number
}

/** The lazy repair's default: ⌊(M − 1) / 2⌋ lost fragments are borne (none for M ≤ 2), so at least ⌈(M + 1) / 2⌉ more losses stay survivable while a repair runs. */
function lazyFragments (m: number): number {
  return Math.floor((m - 1) / 2)
}

/** Distinct fragments that count, at or below which the leader of an erasure-coded root repairs (never below K). */
export function repairAt (k: number, m: number, lazy = lazyFragments(m)): number {
  return Math.max(k, k + m - 1 - Math.max(0, lazy))
}

/**
 * The leader's round for each root: report and forget holders gone past the
 * grace period, and, when this peer is the live complete holder closest to
 * the root and has been for `SETTLE_ROUNDS` rounds, do the root's duties
 * (`RootView.duties`): place copies while fewer than K count, release a
 * lasting surplus. Reports each repair's start and end.
 */
export class Leadership {
  private readonly c: LeadershipComponents
  private readonly init: LeadershipInit
  /** Roots we lead that are being repaired, since when (ms). */
  private readonly repairing = new Map<string, number>()
  /** `root/peer` of holders already reported gone. */
  private readonly reportedGone = new Set<string>()

  constructor (components: LeadershipComponents, init: LeadershipInit) {
    this.c = components
    this.init = init
  }

  /** One root, one round: forget holders replaced long ago, and lead if it is ours to lead. */
  maintain (view: RootView, now: number): void {
    const key = view.root.toString()
    const a = view.assess(this.c.liveness, this.init.gracePeriod, now)
    for (const peer of a.gone) {
      if (this.reportedGone.has(`${key}/${peer.toString()}`)) continue
      this.reportedGone.add(`${key}/${peer.toString()}`)
      this.c.events.safeDispatchEvent('holder:gone', { detail: { root: key, peer: peer.toString() } })
    }
    // a holder gone past the grace period no longer counts; it is forgotten once replaced, or
    // once long gone (if it comes back, its own probes introduce it again)
    for (const peer of a.gone) {
      if (a.counted < view.min && this.c.liveness.downFor(peer.toString(), now) < FORGET_AFTER_GRACE_PERIODS * this.init.gracePeriod) continue
      this.c.book.forgetHolder(view, peer)
      this.reportedGone.delete(`${key}/${peer.toString()}`)
    }
    // only a holder with every block leads: a peer that just took a copy
    // may not know yet who else was asked alongside it
    const leading = a.leader?.equals(this.c.self) === true && view.holders.get(this.c.self.toString())?.state === 'complete'
    if (!leading) {
      view.overSince = undefined
      view.leadingSince = undefined
      this.repairing.delete(key)
      return
    }
    // a peer leads only once it has led for a couple of rounds: when a closer holder is slow to
    // answer for a moment, two leaders would place and trim against each other
    view.leadingSince ??= now
    if (now - view.leadingSince < SETTLE_ROUNDS * this.init.checkInterval) return
    const started = this.repairing.get(key)
    if (started != null && (view.erasure == null ? a.complete.length >= view.min : a.health === 'ok')) {
      this.repairing.delete(key)
      this.c.events.safeDispatchEvent('repair:done', { detail: { root: key, copies: a.complete.length, seconds: (now - started) / 1000 } })
    }
    if (this.c.placement.isPlacing(view.root)) return
    const e = view.erasure
    const duties = e == null
      ? view.duties(a, this.c.self, this.init.gracePeriod, now)
      : view.fragmentDuties(a, this.c.self, repairAt(e.k, e.m, this.init.erasureLazy), this.init.gracePeriod, now)
    if (duties.place > 0) {
      if (duties.fragments == null) this.c.log('%s has %d of %d copies; placing %d', key, a.counted, view.min, duties.place)
      else this.c.log('%s has %d of %d fragments; rebuilding %s on new holders', key, a.counted, view.min, duties.fragments.join(', '))
      if (!this.repairing.has(key)) this.repairing.set(key, now)
      this.c.events.safeDispatchEvent('repair:start', { detail: { root: key, copies: a.counted, wanted: view.min, placing: duties.place } })
      void this.c.placement.place(view, duties.place, this.c.signal(), duties.fragments)
    } else if (duties.release.length > 0) {
      void this.c.placement.release(view, duties.release, this.c.signal())
    }
  }
}
