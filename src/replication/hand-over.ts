import { ReplicaOp } from '../protocol/replica-network.js'
import { anySignal, sleep } from '../signals.js'
import { HANDOVER_GIVE_UP_AFTER, HANDOVER_QUERY_ROOTS, LEAVE_POLL, LEAVING_NOTICE_TIMEOUT, MAX_HANDOVER_PLACEMENTS } from './constants.js'
import type { ReplicaComponents } from './components.js'
import type { Placement } from './placement.js'
import type { Prober } from './prober.js'
import type { RootView } from './root-view.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'

export interface HandOverComponents extends Omit<ReplicaComponents, 'log'> {
  placement: Placement
  prober: Prober
}

export interface HandOverInit {
  gracePeriod: number
  /** The longest a hand-over may take (ms). */
  leaveTimeout: number
}

export interface HandOverResult {
  /** Roots that were short of copies without us, and now have enough. */
  handedOver: number
  /** Roots still short of copies without us when the time was up. */
  unfinished: number
  /** Those roots, with the copies they have without us, and why, when no peer could take a copy. */
  short: Array<{ root: string, copies: number, wanted: number, reason?: string }>
}

/** How often a hand-over in progress says what it is waiting for (ms), naming at most this many roots. */
const REPORT_INTERVAL = 2_000
const HANDOVER_REPORTED = 20

/**
 * A graceful leave: every root we hold complete keeps K copies without us
 * (placing new ones if needed and waiting for them to complete, at most
 * `leaveTimeout`), then every other holder is told we go, so it stops
 * counting us at once rather than after a grace period. A root no peer can
 * take a copy of (nobody else is in the group, every peer asked declined,
 * and no copy is on its way) for HANDOVER_GIVE_UP_AFTER is given up, with
 * the reason, rather than waited for until the leave timeout. However many roots: at most MAX_HANDOVER_PLACEMENTS
 * placements at once, and each pause asks about at most
 * HANDOVER_QUERY_ROOTS roots whose new copy is on its way.
 */
export class HandOver {
  constructor (private readonly c: HandOverComponents, private readonly init: HandOverInit) {}

  async leave (options: AbortOptions = {}): Promise<HandOverResult> {
    const started = Date.now()
    const signal = anySignal(AbortSignal.timeout(this.init.leaveTimeout), options.signal)
    const self = this.c.self.toString()
    const mine = [...this.c.book.views.values()].filter(v => v.holders.get(self)?.state === 'complete')
    let pending = mine.filter(v => this.copiesWithoutUs(v) < v.min)
    const handedOver = pending.length
    /** Roots no peer can take a copy of, and why. */
    const hopeless = new Map<string, string>()
    /** Roots no placement found a peer for, since when, and the reasons of the peers that declined. */
    const nobody = new Map<string, { since: number, reasons: Set<string> }>()
    const waiting = (): RootView[] => pending.filter(v => !hopeless.has(v.root.toString()))
    let reported = 0
    /** Placements of ours under way (at most MAX_HANDOVER_PLACEMENTS). */
    let placing = 0
    while (waiting().length > 0 && !signal.aborted) {
      /** Roots a copy of is on its way to: asked about after the pause. */
      const arriving: string[] = []
      for (const view of waiting()) {
        const a = view.assess(this.c.liveness, this.init.gracePeriod)
        if (a.fetching.length > 0 && arriving.length < HANDOVER_QUERY_ROOTS) arriving.push(view.root.toString())
        const others = this.othersKeeping(view)
        if (others >= view.min || placing >= MAX_HANDOVER_PLACEMENTS || this.c.placement.isPlacing(view.root)) continue
        placing++
        const key = view.root.toString()
        // our own fragment goes to a peer that keeps none of the root
        const ours = view.erasure == null ? undefined : view.holders.get(this.c.self.toString())?.fragment
        void this.c.placement.place(view, view.min - others, signal, ours == null ? undefined : [ours]).then(result => {
          if (signal.aborted) return
          const fetching = view.assess(this.c.liveness, this.init.gracePeriod).fetching.filter(p => !p.equals(this.c.self))
          if (result.placed > 0 || result.untried > 0 || fetching.length > 0) {
            nobody.delete(key)
            return
          }
          // nobody to take it: given up once that has lasted a moment (a peer that is just
          // connecting is asked in the next attempt)
          const none = nobody.get(key) ?? { since: Date.now(), reasons: new Set<string>() }
          nobody.set(key, none)
          for (const r of result.reasons) none.reasons.add(r)
          if (Date.now() - none.since < HANDOVER_GIVE_UP_AFTER) return
          hopeless.set(key, none.reasons.size === 0
            ? 'no other peer of the replication group can take a copy'
            : `no peer took a copy (${[...none.reasons].join('; ')})`)
        }).finally(() => { placing-- })
      }
      if (Date.now() - reported >= REPORT_INTERVAL) {
        reported = Date.now()
        const left = waiting()
        this.c.events.safeDispatchEvent('handover', { detail: { pending: left.length, waiting: this.describe(left.slice(0, HANDOVER_REPORTED)), seconds: (Date.now() - started) / 1000, timeout: this.init.leaveTimeout / 1000 } })
      }
      await sleep(LEAVE_POLL, signal).catch(() => {})
      if (arriving.length > 0) await this.c.prober.probeAll(signal, new Set(arriving))
      pending = pending.filter(v => this.copiesWithoutUs(v) < v.min)
    }
    await this.sayGoodbye()
    return { handedOver: handedOver - pending.length, unfinished: pending.length, short: this.describe(pending, hopeless) }
  }

  /** Complete copies others keep (of an erasure-coded root: distinct fragments, ours only if another holder has it too). */
  private copiesWithoutUs (view: RootView): number {
    const a = view.assess(this.c.liveness, this.init.gracePeriod)
    const others = a.complete.filter(p => !p.equals(this.c.self))
    if (view.erasure == null) return others.length
    // what a leaver waits for is its own fragment elsewhere, not the others' (under lazy repair some may be missing)
    const ours = view.holders.get(this.c.self.toString())?.fragment
    return others.some(p => view.holders.get(p.toString())?.fragment === ours) ? view.min : view.min - 1
  }

  /** The holders that answer and keep what we keep, ourselves aside: any copy, or our own fragment. */
  private othersKeeping (view: RootView): number {
    const a = view.assess(this.c.liveness, this.init.gracePeriod)
    const others = [...a.complete, ...a.fetching].filter(p => !p.equals(this.c.self))
    if (view.erasure == null) return others.length
    const ours = view.holders.get(this.c.self.toString())?.fragment
    return others.filter(p => view.holders.get(p.toString())?.fragment === ours).length > 0 ? view.min : view.min - 1
  }

  private describe (views: RootView[], reasons = new Map<string, string>()): HandOverResult['short'] {
    return views.map(v => {
      const reason = reasons.get(v.root.toString())
      return { root: v.root.toString(), copies: this.copiesWithoutUs(v), wanted: v.min, ...(reason == null ? {} : { reason }) }
    })
  }

  /** Tell every other holder of our roots that we go. */
  private async sayGoodbye (): Promise<void> {
    const peers = new Map<string, PeerId>()
    for (const view of this.c.book.views.values()) {
      for (const { peer } of view.holders.values()) if (!peer.equals(this.c.self)) peers.set(peer.toString(), peer)
    }
    await Promise.all([...peers.values()].map(async peer => {
      await this.c.client.request(peer, { op: ReplicaOp.LEAVING, roots: [], proof: new Uint8Array(0) }, { timeout: LEAVING_NOTICE_TIMEOUT }).catch(() => {})
    }))
  }
}
