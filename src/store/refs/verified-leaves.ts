import { TRUSTED_FOR, UNCHANGED_FOR, VERIFIED_LEAVES } from '../constants.js'

/** What says a file is as it was: its inode, size, and times (`ctime` changes on every write, and nobody can set it back). */
export interface FileIdentity {
  ino: number
  size: number
  mtimeMs: number
  ctimeMs: number
}

export function sameIdentity (a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs
}

export interface VerifiedLeavesInit {
  /** Leaves remembered over all files (default VERIFIED_LEAVES). */
  max?: number
  /** How long a file must have been unchanged before a verified read of it is remembered (ms, default UNCHANGED_FOR). */
  unchangedFor?: number
  /** How long what was learnt of a file is trusted before its leaves are hashed again (ms, default TRUSTED_FOR). */
  trustedFor?: number
}

/**
 * Leaves of referenced files that were hashed and found to match, with the
 * file's identity as it was before the read. A leaf read again from the
 * same file, whose identity before and after that read is still the one
 * recorded, holds the same bytes: it is served without hashing it again
 * (a seeder otherwise hashes every byte it uploads, the greater part of its
 * CPU beside the transport). A write to the file moves its `ctime`, so the
 * next read is verified again; a file whose times moved shortly before the
 * stat is never remembered (UNCHANGED_FOR), what was learnt of a file is
 * trusted for TRUSTED_FOR only, and only files on local file systems are
 * trusted at all (the caller's part: LOCAL_FILE_SYSTEMS). A leaf is known by
 * its offset and length together. Bounded: past `max` leaves, what is
 * remembered is dropped and learnt again.
 */
export class VerifiedLeaves {
  private readonly files = new Map<string, { identity: FileIdentity, since: number, leaves: Set<string> }>()
  private count = 0
  private readonly max: number
  private readonly unchangedFor: number
  private readonly trustedFor: number

  constructor (init: VerifiedLeavesInit = {}) {
    this.max = init.max ?? VERIFIED_LEAVES
    this.unchangedFor = init.unchangedFor ?? UNCHANGED_FOR
    this.trustedFor = init.trustedFor ?? TRUSTED_FOR
  }

  /** Whether the leaf at `offset` (`length` bytes) of file `id` was verified while the file was as `identity` says, not too long ago. */
  holds (id: string, offset: number, length: number, identity: FileIdentity, now = Date.now()): boolean {
    const entry = this.files.get(id)
    if (entry == null) return false
    if (!sameIdentity(entry.identity, identity) || now - entry.since > this.trustedFor) {
      this.forget(id)
      return false
    }
    return entry.leaves.has(`${offset}:${length}`)
  }

  /** The leaf at `offset` (`length` bytes) was read after `identity` was taken (at `statAt`, ms) and hashed to its CID. */
  record (id: string, offset: number, length: number, identity: FileIdentity, statAt: number): void {
    if (statAt - Math.max(identity.ctimeMs, identity.mtimeMs) < this.unchangedFor) return
    let entry = this.files.get(id)
    if (entry != null && (!sameIdentity(entry.identity, identity) || statAt - entry.since > this.trustedFor)) {
      this.forget(id)
      entry = undefined
    }
    const leaf = `${offset}:${length}`
    if (entry?.leaves.has(leaf) === true) return
    if (this.count >= this.max) {
      this.files.clear()
      this.count = 0
      entry = undefined
    }
    if (entry == null) {
      entry = { identity, since: statAt, leaves: new Set() }
      this.files.set(id, entry)
    }
    entry.leaves.add(leaf)
    this.count++
  }

  /** The file changed, moved or went: nothing of it is trusted. */
  forget (id: string): void {
    const entry = this.files.get(id)
    if (entry == null) return
    this.count -= entry.leaves.size
    this.files.delete(id)
  }

  /** Leaves remembered, over all files. */
  get size (): number {
    return this.count
  }
}
