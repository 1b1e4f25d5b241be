import type { GcLock } from './gc-lock.js'
import type { CID } from 'multiformats/cid'

/** What holds a lease: the operation that reads or writes the root while it runs. */
export type LeaseKind = 'get' | 'cat' | 'export' | 'read' | 'replica' | 'erasure'

/** A root kept from gc while an operation runs, until `release`. */
export interface Lease {
  readonly root: CID
  readonly kind: LeaseKind
  release(): void
}

/**
 * What running operations keep: each `take` is one holder of a root, and
 * the root is kept while any holder has not released it. Leases live in
 * memory only: whatever must outlive the daemon (a pin, an unfinished get,
 * a replica being fetched) has a record of its own.
 */
export class Leases {
  private readonly lock: GcLock
  private readonly held = new Map<string, { root: CID, holders: Map<LeaseKind, number> }>()

  constructor (lock: GcLock) {
    this.lock = lock
  }

  /** A lease on `root`; a gc under way decided what to keep without it, so it is waited for. */
  async take (root: CID, kind: LeaseKind): Promise<Lease> {
    await this.lock.idle()
    return this.takeWriting(root, kind)
  }

  /**
   * A lease taken inside `GcLock.writing`, where no gc can be deciding (a gc
   * waits for writers), so nothing is waited for: waiting there for a gc
   * queued meanwhile would wait for ourselves.
   */
  takeWriting (root: CID, kind: LeaseKind): Lease {
    const key = root.toString()
    const entry = this.held.get(key) ?? { root, holders: new Map() }
    entry.holders.set(kind, (entry.holders.get(kind) ?? 0) + 1)
    this.held.set(key, entry)
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      const n = (entry.holders.get(kind) ?? 1) - 1
      if (n > 0) entry.holders.set(kind, n)
      else entry.holders.delete(kind)
      if (entry.holders.size === 0 && this.held.get(key) === entry) this.held.delete(key)
    }
    return { root, kind, release }
  }

  /** Roots with at least one lease. */
  roots (): CID[] {
    return [...this.held.values()].map(e => e.root)
  }

  /** Each leased root with its holders by kind (for `stat`). */
  list (): Array<{ root: string, holders: Partial<Record<LeaseKind, number>> }> {
    return [...this.held].map(([root, e]) => ({ root, holders: Object.fromEntries(e.holders) }))
  }
}
