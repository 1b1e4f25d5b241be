import { ReplicaOp } from '../protocol/replica-network.js'
import { entryOf } from './codec.js'
import { MAX_RECONCILES_PER_INTERVAL, MAX_RECONCILES_RUNNING, RECONCILE_INTERVAL, RECONCILE_LOOKUP_TIMEOUT } from './constants.js'
import { anySignal } from '../signals.js'
import type { ReplicaComponents } from './components.js'
import type { RootView } from './root-view.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface ReconcilerComponents extends ReplicaComponents {
  /** The root's providers, as the DHT names them. */
  providers(root: CID, options: AbortOptions): Promise<PeerId[]>
  /** Bytes of a root our own unfinished copy holds. */
  bytesHeld(root: string): number
}

export interface ReconcilerInit {
  gracePeriod: number
  /** How long a probe may take (ms). */
  probeTimeout: number
  /** Look-ups of one root at most this often (ms). */
  interval?: number
  /** Look-ups running at once, at most (MAX_RECONCILES_RUNNING). */
  maxRunning?: number
  /** Look-ups started within one `interval`, at most (MAX_RECONCILES_PER_INTERVAL). */
  maxPerInterval?: number
}

/**
 * Finds holders of a root that its view lost. When two sets of a root's
 * holders each took the other for gone (a swarm so loaded that probes time
 * out both ways, or a partition that heals while each side holds K
 * copies), neither side is short of copies, so neither offers the other
 * one, and neither probes the other: the root keeps 2K copies for good
 * (seen in a churn run of 100 peers on two cores: a root stayed at 6 with
 * K = 3). Every holder provides the root in the DHT, so the provider
 * records name both sides: the leader of a root looks them up every
 * `interval` and probes each provider it does not know as a holder. One
 * that holds the root as a replica answers as a holder and joins the view
 * (and the leader trims the surplus as usual); its side learns of ours from
 * the probe. One that only pinned the root answers with nothing.
 */
export class Reconciler {
  private readonly c: ReconcilerComponents
  private readonly init: ReconcilerInit
  /** When each root was last looked up (ms). */
  private readonly last = new Map<string, number>()
  private readonly running = new Set<string>()
  /** When the look-ups of the last interval started (ms), oldest first. */
  private readonly started: number[] = []

  constructor (components: ReconcilerComponents, init: ReconcilerInit) {
    this.c = components
    this.init = init
  }

  /**
   * Look up the roots of `views` (those we lead) that are due, the longest
   * waiting first: at most `maxRunning` at once and `maxPerInterval`
   * started within an interval (the others wait for a later round).
   * Resolves, when those are done, with how many holders joined. A peer
   * leading more roots than that looks each up less often than once an
   * interval, in turn: the DHT traffic stays bounded whatever the
   * collection.
   */
  async reconcileDue (views: Iterable<RootView>, now: number, signal: AbortSignal): Promise<number> {
    const interval = this.init.interval ?? RECONCILE_INTERVAL
    while (this.started.length > 0 && now - this.started[0] >= interval) this.started.shift()
    const room = Math.min((this.init.maxRunning ?? MAX_RECONCILES_RUNNING) - this.running.size, (this.init.maxPerInterval ?? MAX_RECONCILES_PER_INTERVAL) - this.started.length)
    if (room <= 0) return 0
    const due: Array<{ view: RootView, last: number }> = []
    for (const view of views) {
      const key = view.root.toString()
      const last = this.last.get(key) ?? -Infinity
      if (!this.running.has(key) && now - last >= interval) due.push({ view, last })
    }
    const chosen = due.sort((a, b) => a.last - b.last).slice(0, room)
    const joined = await Promise.all(chosen.map(async ({ view }) => {
      const key = view.root.toString()
      this.started.push(now)
      this.last.set(key, now)
      this.running.add(key)
      try {
        return await this.reconcile(view, signal)
      } finally {
        this.running.delete(key)
      }
    }))
    return joined.reduce((n, j) => n + j, 0)
  }

  /** Forget a root we no longer hold. */
  drop (root: string): void {
    this.last.delete(root)
  }

  /** Probe every provider of the root we do not know as a holder; how many joined the view. */
  async reconcile (view: RootView, signal: AbortSignal): Promise<number> {
    const providers = await this.c.providers(view.root, { signal: anySignal(signal, AbortSignal.timeout(RECONCILE_LOOKUP_TIMEOUT)) }).catch(() => [])
    const unknown = providers.filter(p => !p.equals(this.c.self) && !view.holders.has(p.toString()))
    const before = view.holders.size
    await Promise.all(unknown.map(async peer => { await this.introduce(peer, view, signal) }))
    const joined = view.holders.size - before
    if (joined > 0) {
      this.c.log('%s: %d holder(s) found through the DHT that our view had lost', view.root, joined)
      this.c.book.changed(view.root.toString())
    }
    return joined
  }

  private async introduce (peer: PeerId, view: RootView, signal: AbortSignal): Promise<void> {
    const timeout = anySignal(signal, AbortSignal.timeout(this.init.probeTimeout))
    try {
      const response = await this.c.client.request(peer, {
        op: ReplicaOp.STATUS,
        roots: [entryOf(view, this.c.self, this.c.liveness, this.c.bytesHeld(view.root.toString()))],
        proof: new Uint8Array(0)
      }, { signal: timeout, timeout: this.init.probeTimeout })
      this.c.liveness.seen(peer.toString())
      this.c.book.mergeAll(peer, response.roots, this.init.gracePeriod)
    } catch {
      // a provider record outlives its peer: nothing to learn from one that does not answer
    }
  }
}
