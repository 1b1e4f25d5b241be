import { UNCHANGED_FOR, VERIFIED_LEAVES } from '../constants.js'

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
}

/**
 * Leaves of referenced files that were hashed and found to match, with the
 * file's identity as it was before the read. A leaf read again from the
 * same file, whose identity before and after that read is still the one
 * recorded, holds the same bytes: it is served without hashing it again
 * (a seeder otherwise hashes every byte it uploads, the greater part of its
 * CPU beside the transport). Any write to the file changes its `ctime`, so
 * the next read is verified again; a file changed just before the stat is
 * never remembered (see UNCHANGED_FOR). Bounded: past `max` leaves, what is
 * remembered is dropped and learnt again.
 */
export class VerifiedLeaves {
  private readonly files = new Map<string, { identity: FileIdentity, offsets: Set<number> }>()
  private count = 0
  private readonly max: number
  private readonly unchangedFor: number

  constructor (init: VerifiedLeavesInit = {}) {
    this.max = init.max ?? VERIFIED_LEAVES
    this.unchangedFor = init.unchangedFor ?? UNCHANGED_FOR
  }

  /** Whether the leaf at `offset` of file `id` was verified while the file was as `identity` says. */
  holds (id: string, offset: number, identity: FileIdentity): boolean {
    const entry = this.files.get(id)
    if (entry == null) return false
    if (!sameIdentity(entry.identity, identity)) {
      this.forget(id)
      return false
    }
    return entry.offsets.has(offset)
  }

  /** The leaf at `offset` was read after `identity` was taken (at `statAt`, ms) and hashed to its CID. */
  record (id: string, offset: number, identity: FileIdentity, statAt: number): void {
    if (statAt - Math.max(identity.ctimeMs, identity.mtimeMs) < this.unchangedFor) return
    let entry = this.files.get(id)
    if (entry != null && !sameIdentity(entry.identity, identity)) {
      this.forget(id)
      entry = undefined
    }
    if (entry?.offsets.has(offset) === true) return
    if (this.count >= this.max) {
      this.files.clear()
      this.count = 0
      entry = undefined
    }
    if (entry == null) {
      entry = { identity, offsets: new Set() }
      this.files.set(id, entry)
    }
    entry.offsets.add(offset)
    this.count++
  }

  /** The file changed, moved or went: nothing of it is trusted. */
  forget (id: string): void {
    const entry = this.files.get(id)
    if (entry == null) return
    this.count -= entry.offsets.size
    this.files.delete(id)
  }

  /** Leaves remembered, over all files. */
  get size (): number {
    return this.count
  }
}
