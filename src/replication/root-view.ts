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
  /** Of an erasure-coded root: the fragment it keeps. */
  fragment?: number
}

/** How an erasure-coded root is kept: K data and M parity fragments per stripe, one per holder, and its layout. */
export interface ErasureIntent {
  k: number
  m: number
  layout: CID
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
  /** Copies that count towards K: complete, fetching and absent (of an erasure-coded root: distinct fragments). */
  counted: number
  /** Of an erasure-coded root: the fragments no holder that counts keeps. */
  missing?: number[]
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
  /** Of an erasure-coded root: which fragments to place (`place` of them). */
  fragments?: number[]
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
  /** Set when the root is erasure-coded: `min` and `max` are then K + M, fragments rather than copies. */
  readonly erasure?: ErasureIntent
  /** Since when live complete copies have exceeded `max` (trim waits a grace period). */
  overSince?: number
  /** No repair is started before this time (ms): a new holder first hears from the others. */
  settledAt = 0
  /** Since when this peer has been the root's leader without a break (ms); unset when it is not. */
  leadingSince?: number
  /** Goes up whenever the intent or the holders change (what our entry of the root is made of). */
  version = 0

  constructor (root: CID, intent: Intent, erasure?: ErasureIntent) {
    this.root = root
    this.erasure = erasure
    this.min = intent.min
    this.max = intent.max
    this.size = intent.size
    this.intentSince = intent.intentSince ?? 0
  }

  /** A holder's state (and its fragment: when not given, the one we knew of stays). */
  set (peer: PeerId, state: HolderState, bytesHeld?: number, fragment?: number): void {
    const known = this.holders.get(peer.toString())?.fragment
    this.holders.set(peer.toString(), { peer, state, bytesHeld, fragment: fragment ?? known })
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
    if (this.erasure != null) return this.assessFragments(complete, fetching, absent, gone)
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
   * An erasure-coded root: what counts is distinct fragments. `ok` while
   * every one of the K + M has a complete holder that answers, `lost` once
   * fewer than K distinct complete ones are left (answering or within the
   * grace period), `repairing` while a fragment is being rebuilt.
   */
  private assessFragments (complete: PeerId[], fetching: PeerId[], absent: PeerId[], gone: PeerId[]): Assessment {
    const { k, m } = this.erasure!
    // a holder whose fragment we do not know yet neither counts nor leads
    const known = (peers: PeerId[]): PeerId[] => peers.filter(p => this.holders.get(p.toString())?.fragment != null)
    complete = known(complete)
    fetching = known(fetching)
    absent = known(absent)
    const fragmentsOf = (peers: PeerId[], state?: HolderState): Set<number> => new Set(peers
      .map(p => this.holders.get(p.toString()))
      .filter(h => h?.fragment != null && (state == null || h.state === state))
      .map(h => h!.fragment!))
    const counting = fragmentsOf([...complete, ...fetching, ...absent])
    const live = fragmentsOf(complete)
    const kept = fragmentsOf([...complete, ...absent], 'complete')
    let health: Health
    if (live.size >= k + m) health = 'ok'
    else if (kept.size < k) health = fetching.length > 0 ? 'repairing' : 'lost'
    else if (fetching.length > 0) health = 'repairing'
    else health = 'under-replicated'
    const missing = Array.from({ length: k + m }, (_, i) => i).filter(i => !counting.has(i))
    const leader = byDistance(this.root, (complete.length > 0 ? complete : fetching).map(peer => ({ peer })))[0]?.peer
    return { complete, fetching, absent, gone, counted: counting.size, missing, health, leader }
  }

  /**
   * An erasure-coded root's duties: once the fragments that count are at
   * or below `repairAt` (lazy repair: a loss or two is borne until then),
   * place every missing one, each on a peer that keeps none of this root;
   * once a fragment has two complete holders answering for a grace period
   * (a holder came back after its fragment was rebuilt elsewhere), release
   * all but the one closest to the root, never ourselves; a holder still
   * rebuilding a fragment that a complete holder answers for is released
   * too once that lasted a grace period (a graceful hand-over places the
   * leaver's fragment elsewhere before it goes).
   */
  fragmentDuties (a: Assessment, self: PeerId, repairAt: number, gracePeriod: number, now: number): Duties {
    const missing = a.missing ?? []
    const fragments = now >= this.settledAt && missing.length > 0 && a.counted <= repairAt ? missing : []
    const holdersOf = new Map<number, PeerId[]>()
    for (const peer of a.complete) {
      const f = this.holders.get(peer.toString())?.fragment
      if (f != null) holdersOf.set(f, [...(holdersOf.get(f) ?? []), peer])
    }
    const release: PeerId[] = []
    // a holder still fetching a fragment that a complete holder keeps is surplus too, but waits the
    // grace period like any: it may be taking over from a holder that is handing over and leaving
    const surplus: PeerId[] = []
    for (const peer of a.fetching) {
      const f = this.holders.get(peer.toString())?.fragment
      if (f != null && holdersOf.has(f)) surplus.push(peer)
    }
    for (const peers of holdersOf.values()) {
      if (peers.length < 2) continue
      const keep = peers.find(p => p.equals(self)) ?? byDistance(this.root, peers.map(peer => ({ peer })))[0].peer
      surplus.push(...peers.filter(p => !p.equals(keep)))
    }
    if (surplus.length === 0) {
      this.overSince = undefined
    } else {
      this.overSince ??= now
      if (now - this.overSince >= gracePeriod) release.push(...surplus)
    }
    return { place: fragments.length, fragments, release }
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
