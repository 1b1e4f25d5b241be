import { byDistance } from './keyspace.js'
import type { PeerLiveness } from './peer-liveness.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export type HolderState = 'fetching' | 'complete'
export type Health = 'ok' | 'under-replicated' | 'repairing' | 'lost'

export interface Holder {
  peer: PeerId
  state: HolderState
  /** Bytes of the DAG it said it holds (its progress while fetching). */
  bytesHeld?: number
}

export interface Intent {
  /** The replication factor wanted (K). */
  min: number
  /** Copies above this are trimmed. */
  max: number
  /** Bytes of every block of the DAG. */
  size: number
  /** When min and max were set (ms): of two intents, the newer one wins. */
  intentSince?: number
}

export interface Assessment {
  /** Holders that answer now and hold every block. */
  complete: PeerId[]
  /** Holders that answer now and are still downloading. */
  fetching: PeerId[]
  /** Holders that do not answer but still count (within the grace period, or too few missed probes). */
  absent: PeerId[]
  /** Holders down for longer than the grace period (they no longer count). */
  gone: PeerId[]
  /** Copies that count towards K: complete, fetching and absent. */
  counted: number
  health: Health
  /** The live holder closest to the root: the only one that repairs or trims. */
  leader?: PeerId
}

/** What the leader of a root does this round. */
export interface Duties {
  /** Copies to place on new holders. */
  place: number
  /** Holders to release, farthest from the root first. */
  release: PeerId[]
}

/**
 * What one peer knows about the holders of one root, and the rule that
 * turns that into a decision: which copies count, how healthy the root is,
 * who leads its repairs, and what the leader does. Pure: liveness and the
 * clock are passed in.
 */
export class RootView {
  readonly root: CID
  min: number
  max: number
  size: number
  intentSince: number
  readonly holders = new Map<string, Holder>()
  /** Since when live complete copies have exceeded `max` (trim waits a grace period). */
  overSince?: number
  /** No repair is started before this time (ms): a new holder first hears from the others. */
  settledAt = 0
  /** Since when this peer has been the root's leader without a break (ms); unset when it is not. */
  leadingSince?: number
  /** Goes up whenever the intent or the holders change (what our entry of the root is made of). */
  version = 0

  constructor (root: CID, intent: Intent) {
    this.root = root
    this.min = intent.min
    this.max = intent.max
    this.size = intent.size
    this.intentSince = intent.intentSince ?? 0
  }

  set (peer: PeerId, state: HolderState, bytesHeld?: number): void {
    this.holders.set(peer.toString(), { peer, state, bytesHeld })
    this.version++
  }

  remove (peer: PeerId | string): boolean {
    if (!this.holders.delete(peer.toString())) return false
    this.version++
    return true
  }

  /** Set a new intent (the user's), whatever the old one was. */
  setIntent (intent: { min: number, max: number, intentSince: number }): void {
    this.min = intent.min
    this.max = intent.max
    this.intentSince = intent.intentSince
    this.version++
  }

  has (peer: PeerId | string): boolean {
    return this.holders.has(peer.toString())
  }

  /** Take `intent` if it is newer than ours; whether it was. */
  adopt (intent: Intent): boolean {
    if ((intent.intentSince ?? 0) <= this.intentSince || intent.min < 1 || intent.max < intent.min) return false
    this.min = intent.min
    this.max = intent.max
    this.intentSince = intent.intentSince ?? 0
    this.version++
    return true
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
      } else if (liveness.stillCounts(key, gracePeriod, now)) {
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

  /**
   * The leader's duties this round (`self` leads and holds every block):
   * place copies while fewer than K count, but never beyond `max` + K
   * holders known (answering or not): when silent holders are only slow, not
   * dead, the copies placed in their stead are bounded, and trimmed once they
   * answer again. Once more than `max` complete
   * copies have answered for a grace period, release the surplus, farthest
   * first, together with any copy still downloading (it is not needed).
   * Holders that do not answer do not hold a trim back: only copies that
   * answer are released, and never below `max` of them, so a slow or
   * flapping holder can neither block the trim nor make it go below K.
   */
  duties (a: Assessment, self: PeerId, gracePeriod: number, now: number): Duties {
    const room = Math.max(0, this.max + this.min - this.holders.size)
    const place = now >= this.settledAt ? Math.min(room, Math.max(0, this.min - a.counted)) : 0
    // the surplus is timed on every complete copy we know of, silent ones included, so a
    // moment of silence does not start the wait again; what is released answers now
    const completeKnown = a.complete.length + a.absent.filter(p => this.holders.get(p.toString())?.state === 'complete').length
    const surplus = completeKnown > this.max || (a.complete.length >= this.max && a.fetching.length > 0)
    if (!surplus) {
      this.overSince = undefined
      return { place, release: [] }
    }
    this.overSince ??= now
    if (now - this.overSince < gracePeriod || a.complete.length < this.max) return { place, release: [] }
    const farthestFirst = byDistance(this.root, a.complete.map(peer => ({ peer }))).reverse().map(p => p.peer)
    const extra = farthestFirst.filter(p => !p.equals(self)).slice(0, a.complete.length - this.max)
    return { place, release: [...a.fetching, ...extra] }
  }
}
