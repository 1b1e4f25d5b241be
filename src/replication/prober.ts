import { AdaptiveTimeout } from '@libp2p/utils'
import { ReplicaOp } from '../protocol/replica-network.js'
import { entryOf } from './codec.js'
import { MAX_PROBE_TIMEOUT_FACTOR } from './constants.js'
import type { ReplicaComponents } from './components.js'
import type { RootView } from './root-view.js'
import type { PeerId } from '@libp2p/interface'

export interface ProberComponents extends ReplicaComponents {
  /** Bytes of a root our own unfinished copy holds. */
  bytesHeld(root: string): number
}

export interface ProberInit {
  /** The shortest probe timeout (ms); it grows with the response times seen. */
  probeTimeout: number
  gracePeriod: number
  /** How often a round runs (ms): a peer that probed us within it need not be probed back. */
  checkInterval: number
}

/**
 * Liveness of the other holders of our roots: each round, one STATUS
 * request per peer naming every root we share with it, all peers at once.
 * The answer's states and holder lists are folded into our views. Timeouts
 * follow the response times seen (libp2p's AdaptiveTimeout, between
 * `probeTimeout` and MAX_PROBE_TIMEOUT_FACTOR times it), so a loaded swarm
 * answering slowly is not taken for a dead one.
 */
export class Prober {
  private readonly c: ProberComponents
  private readonly init: ProberInit
  private readonly timeout: AdaptiveTimeout
  /** Members that probed us: when, and about which roots. */
  private readonly heard = new Map<string, { at: number, roots: Set<string> }>()

  constructor (components: ProberComponents, init: ProberInit) {
    this.c = components
    this.init = init
    this.timeout = new AdaptiveTimeout({ minTimeout: init.probeTimeout, maxTimeout: init.probeTimeout * MAX_PROBE_TIMEOUT_FACTOR })
  }

  /**
   * A member probed us about `roots` (and we folded its answer in): for one
   * round we need not probe it about them ourselves. Holders probe each
   * other, so this halves the probes.
   */
  probedBy (peer: PeerId, roots: string[]): void {
    this.heard.set(peer.toString(), { at: Date.now(), roots: new Set(roots) })
  }

  /** Probe every other holder of our roots (only of `only`, if given) once. */
  async probeAll (signal: AbortSignal, only?: Set<string>): Promise<void> {
    const byPeer = new Map<string, { peer: PeerId, views: RootView[] }>()
    for (const view of this.c.book.views.values()) {
      if (only != null && !only.has(view.root.toString())) continue
      for (const { peer } of view.holders.values()) {
        if (peer.equals(this.c.self)) continue
        const entry = byPeer.get(peer.toString()) ?? { peer, views: [] }
        entry.views.push(view)
        byPeer.set(peer.toString(), entry)
      }
    }
    const now = Date.now()
    for (const [key, heard] of this.heard) if (now - heard.at >= this.init.checkInterval) this.heard.delete(key)
    await Promise.all([...byPeer.values()].map(async ({ peer, views }) => {
      const heard = this.heard.get(peer.toString())
      if (only == null && heard != null && views.every(v => heard.roots.has(v.root.toString()))) return
      await this.probe(peer, views, signal)
    }))
  }

  private async probe (peer: PeerId, views: RootView[], signal: AbortSignal): Promise<void> {
    const key = peer.toString()
    const asked = Date.now()
    const timeout = this.timeout.getTimeoutSignal({ signal })
    try {
      const response = await this.c.client.request(peer, {
        op: ReplicaOp.STATUS,
        roots: views.map(v => entryOf(v, this.c.self, this.c.liveness, this.c.bytesHeld(v.root.toString()))),
        proof: new Uint8Array(0)
      }, { signal: timeout, timeout: timeout.timeout })
      // it said goodbye while this answer was on its way: the goodbye wins
      if (this.c.liveness.leftAfter(key, asked)) return
      const downFor = this.c.liveness.downFor(key)
      const wasUp = this.c.liveness.isUp(key)
      this.c.liveness.seen(key)
      if (!wasUp) {
        this.c.events.safeDispatchEvent('holder:back', { detail: { peer: key, downFor } })
        for (const v of views) this.c.book.changed(v.root.toString())
      }
      this.c.book.mergeAll(peer, response.roots, this.init.gracePeriod)
    } catch (err: any) {
      if (signal.aborted) return
      if (this.c.liveness.isUp(key)) {
        this.c.log('holder %p did not answer: %s', peer, err.message)
        this.c.events.safeDispatchEvent('holder:absent', { detail: { peer: key, error: err.message, roots: views.length } })
      }
      this.c.liveness.failed(key)
      for (const v of views) this.c.book.changed(v.root.toString())
    } finally {
      this.timeout.cleanUp(timeout)
    }
  }
}
