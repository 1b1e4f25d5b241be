import type { Bitfield } from './bitfield.js'

/**
 * How many reachable peers hold each leaf: the basis of rarest-first.
 * A complete peer counts for every leaf.
 */
export class Availability {
  private readonly counts: Int32Array
  private completeHolders = 0
  private readonly counted = new Map<string, { complete: boolean, bitfield?: Bitfield }>()

  constructor (readonly size: number) {
    this.counts = new Int32Array(size)
  }

  /** Count a peer's current state (replacing what was counted for it before). */
  setPeer (key: string, complete: boolean, bitfield?: Bitfield): void {
    this.removePeer(key)
    const usable = bitfield != null && bitfield.size === this.size ? bitfield : undefined
    if (complete) {
      this.completeHolders++
    } else if (usable != null) {
      for (let i = 0; i < this.size; i++) if (usable.has(i)) this.counts[i]++
    }
    this.counted.set(key, { complete, bitfield: usable })
  }

  /** A counted peer announced new leaves (already set in its bitfield). */
  addHaves (key: string, indices: number[]): void {
    const c = this.counted.get(key)
    if (c == null || c.complete || c.bitfield == null) return
    for (const i of indices) if (i >= 0 && i < this.size) this.counts[i]++
  }

  removePeer (key: string): void {
    const c = this.counted.get(key)
    if (c == null) return
    this.counted.delete(key)
    if (c.complete) {
      this.completeHolders--
    } else if (c.bitfield != null) {
      for (let i = 0; i < this.size; i++) if (c.bitfield.has(i)) this.counts[i]--
    }
  }

  of (i: number): number {
    return this.counts[i] + this.completeHolders
  }
}
