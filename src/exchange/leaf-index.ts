import { isInterior } from '../content/dag.js'
import { walkDag } from '../content/dag-walk.js'
import type { BlockStore } from '../store/block-store.js'
import type { CID } from 'multiformats/cid'

/**
 * The leaves (raw blocks) of a DAG in order, as numbered in swarm
 * bitfields. A leaf that occurs several times (repeated content) has several
 * indices. Built from the interior nodes, which must all be in the store.
 */
export class LeafIndex {
  readonly leaves: CID[]
  private readonly indices = new Map<string, number[]>()

  private constructor (leaves: CID[]) {
    this.leaves = leaves
    leaves.forEach((cid, i) => {
      const key = cid.toString()
      const list = this.indices.get(key)
      if (list != null) list.push(i)
      else this.indices.set(key, [i])
    })
  }

  static async build (root: CID, blocks: BlockStore): Promise<LeafIndex> {
    const leaves: CID[] = []
    // every interior node must be here: a missing one throws
    for await (const { cid } of walkDag([root], async cid => (await blocks.get(cid)).bytes)) {
      if (!isInterior(cid)) leaves.push(cid)
    }
    return new LeafIndex(leaves)
  }

  get size (): number {
    return this.leaves.length
  }

  indicesOf (cid: CID): number[] {
    return this.indices.get(cid.toString()) ?? []
  }
}
