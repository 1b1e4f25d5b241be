import { byDistance } from './keyspace.js'
import type { PeerLiveness } from './peer-liveness.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type HolderState = 'fetching' | 'complete'
export type Health = 'ok' | 'under-replicated' | 'repairing' | 'lost'

export interface Holder {
  peer: PeerId
  state: HolderState
}

export interface Assessment {
  /** Holders that answer now and hold every block. */
  complete: PeerId[]
  /** Holders that answer now and are still downloading. */
  fetching: PeerId[]
  /** Holders that do not answer, still within the grace period (they count). */
  absent: PeerId[]
  /** Holders down for longer than the grace period (they no longer count). */
  gone: PeerId[]
  /** Copies that count towards K: complete, fetching and absent. */
  counted: number
  health: Health
  /** The live holder closest to the root: the only one that repairs or trims. */
  leader?: PeerId
}

/**
 * What one peer knows about the holders of one root, and the rule that
 * turns that into a decision: which copies count, how healthy the root is,
 * and who leads its repairs. Pure: liveness and the clock are passed in.
 */
export class RootView {
  readonly root: CID
  min: number
  max: number
  size: number
  readonly holders = new Map<string, Holder>()
  /** Since when live complete copies have exceeded `max` (trim waits a grace period). */
  overSince?: number
  /** No repair is started before this time (ms): a new holder first hears from the others. */
  settledAt = 0

  constructor (root: CID, intent: { min: number, max: number, size: number }) {
    this.root = root
    this.min = intent.min
    this.max = intent.max
    this.size = intent.size
  }

  set (peer: PeerId, state: HolderState): void {
    this.holders.set(peer.toString(), { peer, state })
  }

  remove (peer: PeerId | string): boolean {
    return this.holders.delete(peer.toString())
  }

  has (peer: PeerId | string): boolean {
    return this.holders.has(peer.toString())
  }

  assess (liveness: PeerLiveness, gracePeriod: number, now = Date.now()): Assessment {
    const complete: PeerId[] = []
    const fetching: PeerId[] = []
    const absent: PeerId[] = []
    const gone: PeerId[] = []
    for (const { peer, state } of this.holders.values()) {
      const key = peer.toString()
      if (liveness.isUp(key)) {
        (state === 'complete' ? complete : fetching).push(peer)
      } else if (liveness.downFor(key, now) < gracePeriod) {
        absent.push(peer)
      } else {
        gone.push(peer)
      }
    }
    const counted = complete.length + fetching.length + absent.length
    let health: Health
    if (complete.length >= this.min) health = 'ok'
    else if (complete.length === 0 && fetching.length === 0) health = 'lost'
    else if (fetching.length > 0) health = 'repairing'
    else health = 'under-replicated'
    // prefer a holder with the whole DAG; a fetching one leads only if none is left
    const candidates = (complete.length > 0 ? complete : fetching).map(peer => ({ peer }))
    const leader = byDistance(this.root, candidates)[0]?.peer
    return { complete, fetching, absent, gone, counted, health, leader }
  }

  /** Complete live holders beyond `max`, farthest from the root first, never `keep`. */
  surplus (assessment: Assessment, keep: PeerId): PeerId[] {
    const extra = assessment.complete.length - this.max
    if (extra <= 0) return []
    return byDistance(this.root, assessment.complete.map(peer => ({ peer })))
      .reverse()
      .map(p => p.peer)
      .filter(p => !p.equals(keep))
      .slice(0, extra)
  }
}
