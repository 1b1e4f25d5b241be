import { isInterior } from '../content/dag.js'
import type { CID } from 'multiformats/cid'

/**
 * The blocks one download still needs, and where each one is:
 * `pending` (nobody asked yet), `inFlight` (asked of some peers) or
 * `writing` (received and verified, being stored). A block leaves the list
 * when it is on disk.
 *
 * Interior (dag-pb) nodes come before leaves, because their links reveal the
 * rest of the DAG; blocks given back by a failed peer come before new ones.
 */
export class WantList {
  private readonly retry = new Map<string, CID>()
  private readonly interior = new Map<string, CID>()
  private readonly leaves = new Map<string, CID>()
  private readonly inFlight = new Map<string, { cid: CID, peers: Set<string>, since: number }>()
  private readonly writing = new Set<string>()
  /** Blocks another download is fetching (see WantManager): wanted, not asked for. */
  private readonly waiting = new Map<string, CID>()
  private known = 0

  /** Add a block to fetch (ignored if it is already tracked). */
  add (cid: CID): void {
    const key = cid.toString()
    if (this.has(key)) return
    this.known++
    if (isInterior(cid)) {
      this.interior.set(key, cid)
    } else {
      this.leaves.set(key, cid)
    }
  }

  /** Whether the block is anywhere in the list. */
  has (key: string): boolean {
    return this.isPending(key) || this.inFlight.has(key) || this.writing.has(key) || this.waiting.has(key)
  }

  /** Another download fetches `cid`: it stops being pending here until that one stores it or gives it up. */
  elsewhere (cid: CID): void {
    const key = cid.toString()
    if (!this.isPending(key)) return
    this.unpend(key)
    this.waiting.set(key, cid)
  }

  /** The download fetching `cid` gave it up: it is pending here again. */
  takeBack (cid: CID): void {
    const key = cid.toString()
    if (this.waiting.delete(key)) this.retry.set(key, cid)
  }

  /**
   * Another download stored `cid`: it is being taken in here (as if
   * received), until `stored`. Returns whether it was wanted here and not
   * already on its way from a peer.
   */
  storedElsewhere (cid: CID): boolean {
    const key = cid.toString()
    if (!this.waiting.delete(key)) {
      if (!this.isPending(key)) return false
      this.unpend(key)
    }
    this.writing.add(key)
    return true
  }

  /** Pending blocks, best first. */
  * pending (): Generator<CID> {
    yield * this.retry.values()
    yield * this.interior.values()
    yield * this.leaves.values()
  }

  /** Blocks asked of some peers and not yet received, with who was asked and since when. */
  inFlightEntries (): Iterable<{ cid: CID, peers: Set<string>, since: number }> {
    return this.inFlight.values()
  }

  isPending (key: string): boolean {
    return this.retry.has(key) || this.interior.has(key) || this.leaves.has(key)
  }

  /** Record that `peer` was asked for `cid`; it stops being pending. */
  requested (cid: CID, peer: string, now = Date.now()): void {
    const key = cid.toString()
    this.unpend(key)
    const entry = this.inFlight.get(key)
    if (entry != null) {
      entry.peers.add(peer)
    } else {
      this.inFlight.set(key, { cid, peers: new Set([peer]), since: now })
    }
  }

  /**
   * `peer` will not deliver `cid` (it failed, left or said it doesn't have
   * it). When no other peer was asked, the block is pending again.
   */
  withdrawn (cid: CID, peer: string): void {
    const key = cid.toString()
    const entry = this.inFlight.get(key)
    if (entry == null) return
    entry.peers.delete(peer)
    if (entry.peers.size === 0) {
      this.inFlight.delete(key)
      this.retry.set(key, cid)
    }
  }

  /**
   * A verified copy arrived: the block is being written. Returns the other
   * peers it was asked of (whose requests can be cancelled), or undefined when
   * the block was not wanted (unsolicited, or a duplicate that lost the race).
   */
  received (cid: CID): Set<string> | undefined {
    const key = cid.toString()
    const entry = this.inFlight.get(key)
    if (entry == null) return undefined
    this.inFlight.delete(key)
    this.writing.add(key)
    return entry.peers
  }

  /** The block is on disk. */
  stored (cid: CID): void {
    this.writing.delete(cid.toString())
  }

  /** Writing failed: fetch it again. */
  writeFailed (cid: CID): void {
    const key = cid.toString()
    if (this.writing.delete(key)) {
      this.retry.set(key, cid)
    }
  }

  get pendingCount (): number {
    return this.retry.size + this.interior.size + this.leaves.size
  }

  get inFlightCount (): number {
    return this.inFlight.size
  }

  /** Blocks ever added (a lower bound of the DAG's size until every interior node is known). */
  get knownCount (): number {
    return this.known
  }

  isComplete (): boolean {
    return this.pendingCount === 0 && this.inFlight.size === 0 && this.writing.size === 0 && this.waiting.size === 0
  }

  private unpend (key: string): void {
    this.retry.delete(key)
    this.interior.delete(key)
    this.leaves.delete(key)
  }
}
