import { countDagBlocks } from '../content/dag-shape.js'
import { isInterior } from '../content/dag.js'
import { walkDag } from '../content/dag-walk.js'
import type { BlockStore } from '../store/block-store.js'
import type { CID } from 'multiformats/cid'

/**
 * The leaves (raw blocks) of a DAG in order, as numbered in swarm
 * bitfields. A leaf that occurs several times (repeated content) has several
 * indices. Built from the interior nodes, which must all be in the store.
 * Each distinct leaf is kept once; each position is a number.
 */
export class LeafIndex {
  /** The distinct leaves, in order of first position. */
  private readonly distinct: CID[]
  /** For each position, its leaf's place in `distinct`. */
  private readonly at: Uint32Array
  /** Each distinct leaf's first position. */
  private readonly first = new Map<string, number>()
  /** For each position, the next position of the same leaf (-1: none). */
  private readonly next: Int32Array

  private constructor (distinct: CID[], at: Uint32Array) {
    this.distinct = distinct
    this.at = at
    this.next = new Int32Array(at.length).fill(-1)
    const last = new Int32Array(distinct.length).fill(-1)
    at.forEach((d, i) => {
      if (last[d] < 0) this.first.set(distinct[d].toString(), i)
      else this.next[last[d]] = i
      last[d] = i
    })
  }

  /**
   * Number the leaves under `root`. A DAG whose full walk would meet more
   * than `MAX_DAG_BLOCKS` blocks is refused (`DagLimitError`) from a count
   * that reads each interior node once, before any position is numbered.
   */
  static async build (root: CID, blocks: BlockStore, signal?: AbortSignal): Promise<LeafIndex> {
    // every interior node must be here: a missing one throws
    const load = async (cid: CID): Promise<Uint8Array> => (await blocks.get(cid, { signal })).bytes
    const total = await countDagBlocks(root, load, {}, signal)
    const at = new Uint32Array(total)
    const distinct: CID[] = []
    const seen = new Map<string, number>()
    let n = 0
    for await (const { cid } of walkDag([root], load, { signal })) {
      if (isInterior(cid)) continue
      const key = cid.toString()
      let d = seen.get(key)
      if (d == null) {
        d = distinct.push(cid) - 1
        seen.set(key, d)
      }
      at[n++] = d
    }
    return new LeafIndex(distinct, at.slice(0, n))
  }

  get size (): number {
    return this.at.length
  }

  /** The leaf at position `i`. */
  leaf (i: number): CID {
    return this.distinct[this.at[i]]
  }

  /** Each distinct leaf once. */
  uniqueLeaves (): CID[] {
    return this.distinct
  }

  /** The positions of a leaf, in order. */
  indicesOf (cid: CID): number[] {
    return this.indicesOfKey(cid.toString())
  }

  /** The positions of the leaf whose CID string is `key` (for a caller that has it already). */
  indicesOfKey (key: string): number[] {
    const out: number[] = []
    for (let i = this.first.get(key) ?? -1; i >= 0; i = this.next[i]) out.push(i)
    return out
  }
}
