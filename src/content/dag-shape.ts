import { DagLimitError } from '../errors.js'
import { MAX_DAG_BLOCKS, MAX_DAG_DEPTH } from './constants.js'
import { blockKey, isInterior, sizedLinks } from './dag.js'
import type { DagLimits } from './dag-walk.js'
import type { CID } from 'multiformats/cid'

/**
 * How many blocks a walk that follows every link of `root` would meet
 * (a repeated block each time), found without meeting them: each distinct
 * interior node is read once and the count below it is remembered. A DAG of
 * five blocks that a full walk would meet 10^12 times costs five reads here.
 * An interior node `load` does not give counts as one block. Throws
 * `DagLimitError` past `maxBlocks` (or distinct blocks past it, or depth past
 * `maxDepth`), before anything walks it in full.
 */
export async function countDagBlocks (root: CID, load: (cid: CID) => Promise<Uint8Array | undefined>, limits: Partial<DagLimits> = {}, signal?: AbortSignal): Promise<number> {
  const maxBlocks = limits.maxBlocks ?? MAX_DAG_BLOCKS
  const maxDepth = limits.maxDepth ?? MAX_DAG_DEPTH
  /** blocks met under (and including) each distinct interior node, once known */
  const below = new Map<string, number>()
  const refuse = (what: string): never => { throw new DagLimitError(`the DAG under ${root.toString()} ${what}: refused`) }
  // post-order without recursion: a node's count is summed once its children's are known
  const stack: Array<{ cid: CID, key: string, depth: number, children?: CID[] }> = [{ cid: root, key: blockKey(root), depth: 0 }]
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const top = stack[stack.length - 1]
    if (top.children == null) {
      if (top.depth > maxDepth) refuse(`is more than ${maxDepth} links deep`)
      const bytes = isInterior(top.cid) && !below.has(top.key) ? await load(top.cid) : undefined
      top.children = bytes == null ? [] : sizedLinks(top.cid, bytes).map(l => l.cid)
      for (const child of top.children) {
        const key = blockKey(child)
        if (isInterior(child) && !below.has(key)) stack.push({ cid: child, key, depth: top.depth + 1 })
      }
      continue
    }
    stack.pop()
    if (below.has(top.key)) continue
    let n = 1
    for (const child of top.children) n += below.get(blockKey(child)) ?? 1
    if (n > maxBlocks) refuse(`has more than ${maxBlocks} blocks (counting each repeat)`)
    below.set(top.key, n)
    if (below.size > maxBlocks) refuse(`has more than ${maxBlocks} distinct blocks`)
  }
  return below.get(blockKey(root)) ?? 1
}
