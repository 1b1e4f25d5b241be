import { ReplicaOp } from '../protocol/replica-network.js'
import { anySignal, sleep } from '../signals.js'
import { LEAVE_POLL, LEAVING_NOTICE_TIMEOUT } from './constants.js'
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
  /** Those roots, with the copies they have without us. */
  short: Array<{ root: string, copies: number, wanted: number }>
}

/** How often a hand-over in progress says what it is waiting for (ms). */
const REPORT_INTERVAL = 2_000

/**
 * A graceful leave: every root we hold complete keeps K copies without us
 * (placing new ones if needed and waiting for them to complete, at most
 * `leaveTimeout`), then every other holder is told we go, so it stops
 * counting us at once rather than after a grace period.
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
    let reported = 0
    while (pending.length > 0 && !signal.aborted) {
      for (const view of pending) {
        const a = view.assess(this.c.liveness, this.init.gracePeriod)
        const others = a.complete.length + a.fetching.length - 1
        if (others < view.min && !this.c.placement.isPlacing(view.root)) {
          void this.c.placement.place(view, view.min - others, signal)
        }
      }
      if (Date.now() - reported >= REPORT_INTERVAL) {
        reported = Date.now()
        this.c.events.safeDispatchEvent('handover', { detail: { waiting: this.describe(pending), seconds: (Date.now() - started) / 1000, timeout: this.init.leaveTimeout / 1000 } })
      }
      await sleep(LEAVE_POLL, signal).catch(() => {})
      await this.c.prober.probeAll(signal, new Set(pending.map(v => v.root.toString())))
      pending = pending.filter(v => this.copiesWithoutUs(v) < v.min)
    }
    await this.sayGoodbye()
    return { handedOver: handedOver - pending.length, unfinished: pending.length, short: this.describe(pending) }
  }

  private copiesWithoutUs (view: RootView): number {
    const a = view.assess(this.c.liveness, this.init.gracePeriod)
    return a.complete.filter(p => !p.equals(this.c.self)).length
  }

  private describe (views: RootView[]): HandOverResult['short'] {
    return views.map(v => ({ root: v.root.toString(), copies: this.copiesWithoutUs(v), wanted: v.min }))
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
