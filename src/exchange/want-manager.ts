import type { CID } from 'multiformats/cid'

/** How many lately stored blocks the want manager remembers. */
const RECENTLY_STORED = 4096

/** A download that shares blocks with others through the want manager. */
export interface WantSubscriber {
  /** Another download asked a peer for `cid`: do not ask for it too, wait for it. */
  claimedElsewhere(cid: CID): void
  /** The download that was fetching `cid` gave it up: fetch it yourself. */
  releasedElsewhere(cid: CID): void
  /** Another download stored `cid`: it is verified and on disk. */
  storedElsewhere(cid: CID): void
}

interface Want {
  cid: CID
  /** The one download whose request for the block is out (or being written). */
  owner?: WantSubscriber
  /** Every download that needs the block. */
  wanted: Set<WantSubscriber>
}

/**
 * The node-wide want list: which blocks the running downloads need, and
 * which one of them is fetching each. Two downloads of the same DAG (a `get`
 * beside a repair, two `cat`s) never ask peers for the same block: the first
 * to ask claims it, the others wait for it to be stored, and take it over if
 * the claimant gives it up. Per-download state (which peer was asked, what
 * it lacks) stays in each download's own `WantList`.
 */
export class WantManager {
  private readonly wants = new Map<string, Want>()
  /**
   * Blocks stored lately, oldest first: a download that looked in the store
   * just before one was stored, and registers its want just after, is told
   * it is stored instead of fetching it again.
   */
  private readonly recent = new Set<string>()

  /** `session` needs `cid`. Returns whether another download is fetching it already (or has just stored it: `storedElsewhere` follows). */
  want (cid: CID, session: WantSubscriber): boolean {
    if (this.recent.has(cid.toString())) {
      queueMicrotask(() => { session.storedElsewhere(cid) })
      return true
    }
    const want = this.entry(cid)
    want.wanted.add(session)
    return want.owner != null && want.owner !== session
  }

  /**
   * `session` is about to ask a peer for `cid`. Returns false when another
   * download holds the claim (ask nothing); otherwise the claim is
   * `session`'s and the other downloads that need the block are told.
   */
  claim (cid: CID, session: WantSubscriber): boolean {
    const want = this.entry(cid)
    want.wanted.add(session)
    if (want.owner === session) return true
    if (want.owner != null) return false
    want.owner = session
    for (const other of want.wanted) {
      if (other !== session) other.claimedElsewhere(cid)
    }
    return true
  }

  /** `session` no longer has a request for `cid` out: another download may take it. */
  unclaim (cid: CID, session: WantSubscriber): void {
    const key = cid.toString()
    const want = this.wants.get(key)
    if (want?.owner !== session) return
    want.owner = undefined
    this.handOn(key, want)
  }

  /** `cid` is verified and on disk: every download that needed it is told. */
  stored (cid: CID, session: WantSubscriber): void {
    const key = cid.toString()
    this.recent.add(key)
    if (this.recent.size > RECENTLY_STORED) {
      const [oldest] = this.recent
      this.recent.delete(oldest)
    }
    const want = this.wants.get(key)
    if (want == null) return
    this.wants.delete(key)
    for (const other of want.wanted) {
      if (other !== session) other.storedElsewhere(cid)
    }
  }

  /** `session` ended: its claims go to the others that need the same blocks. */
  leave (session: WantSubscriber): void {
    for (const [key, want] of [...this.wants]) {
      if (!want.wanted.delete(session)) continue
      if (want.owner === session) {
        want.owner = undefined
        this.handOn(key, want)
      } else if (want.wanted.size === 0) {
        this.wants.delete(key)
      }
    }
  }

  /** Blocks some download needs. */
  get size (): number {
    return this.wants.size
  }

  /** Downloads that need `cid`. */
  wantedBy (cid: CID): number {
    return this.wants.get(cid.toString())?.wanted.size ?? 0
  }

  private handOn (key: string, want: Want): void {
    if (want.wanted.size === 0) {
      this.wants.delete(key)
      return
    }
    for (const other of want.wanted) other.releasedElsewhere(want.cid)
  }

  private entry (cid: CID): Want {
    const key = cid.toString()
    let want = this.wants.get(key)
    if (want == null) {
      want = { cid, wanted: new Set() }
      this.wants.set(key, want)
    }
    return want
  }
}
