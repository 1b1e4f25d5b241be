import { DagLimitError } from '../errors.js'
import { MAX_DAG_BLOCKS, MAX_DAG_DEPTH } from './constants.js'
import { blockKey, isInterior, sizedLinks } from './dag.js'
import type { CID } from 'multiformats/cid'

/** How far one walk may go (defaults: `MAX_DAG_BLOCKS`, `MAX_DAG_DEPTH`). */
export interface DagLimits {
  /** Blocks the walk may meet: each time it meets them, or each once in a `unique` walk. */
  maxBlocks: number
  /** Links from a root to the deepest block met. */
  maxDepth: number
}

export interface WalkOptions {
  /**
   * Meet each block once, however many links lead to it. By default every
   * link is followed, so a block repeated in a file is met each time (what a
   * file's reader needs: the offset of each copy).
   */
  unique?: boolean
  /** Blocks not to visit (nor anything below them), e.g. ones already seen. */
  skip?(cid: CID): boolean
  limits?: Partial<DagLimits>
  signal?: AbortSignal
}

/** A link to follow, with what the walker's user carries along it (a size, a place in a file). */
export interface DagLink<T> {
  cid: CID
  at: T
}

/** One block met by a walk, with its depth (0 for a root). */
export interface DagVisit<T> extends DagLink<T> {
  depth: number
}

/**
 * The one DAG walk of Shoal, bounded: depth first, left to right (file
 * order for UnixFS). `expand` gives a block's children (what each carries
 * along), or undefined for a leaf or a block not at hand. Yields each block
 * as it is met, after it was expanded. Throws `DagLimitError` as soon as the
 * walk would meet more blocks than `maxBlocks` or go deeper than
 * `maxDepth`, so a hostile DAG costs at most that much whoever asks for it.
 */
export async function * walkDagWith<T> (roots: Array<DagLink<T>>, expand: (visit: DagVisit<T>) => Array<DagLink<T>> | undefined | Promise<Array<DagLink<T>> | undefined>, options: WalkOptions = {}): AsyncGenerator<DagVisit<T> & { children?: Array<DagLink<T>> }> {
  const maxBlocks = options.limits?.maxBlocks ?? MAX_DAG_BLOCKS
  const maxDepth = options.limits?.maxDepth ?? MAX_DAG_DEPTH
  const visited = options.unique === true ? new Set<string>() : undefined
  const stack: Array<DagVisit<T> & { children?: Array<DagLink<T>> }> = []
  for (let i = roots.length - 1; i >= 0; i--) stack.push({ cid: roots[i].cid, at: roots[i].at, depth: 0 })
  let met = 0
  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const visit = stack.pop()!
    if (options.skip?.(visit.cid) === true) continue
    if (visited != null) {
      const key = blockKey(visit.cid)
      if (visited.has(key)) continue
      visited.add(key)
    }
    if (++met > maxBlocks) throw new DagLimitError(`the DAG under ${roots[0]?.cid.toString() ?? '?'} has more than ${maxBlocks} blocks${visited == null ? ' (counting each repeat)' : ''}: refused`)
    if (visit.depth > maxDepth) throw new DagLimitError(`the DAG under ${roots[0]?.cid.toString() ?? '?'} is more than ${maxDepth} links deep: refused`)
    // a leaf's answer comes at once: only an interior node's read is waited for
    const expanded = expand(visit)
    const children = expanded instanceof Promise ? await expanded : expanded
    if (children != null) visit.children = children
    yield visit
    if (children != null) {
      const depth = visit.depth + 1
      for (let i = children.length - 1; i >= 0; i--) stack.push({ cid: children[i].cid, at: children[i].at, depth })
    }
  }
}

/** One block met by `walkDag`. */
export interface DagStep {
  cid: CID
  /** The size its parent names for it (dag-pb `Tsize`; 0 for a root). */
  size: number
  depth: number
  /**
   * An interior node's bytes, when `load` found them; undefined for a leaf
   * (its bytes are not needed to walk on) and for a missing interior node
   * (nothing below it is known).
   */
  bytes?: Uint8Array
  /** Its links with the sizes they name, when `bytes` is set. */
  links?: Array<{ cid: CID, size: number }>
}

/**
 * `walkDagWith` over the links of dag-pb nodes: `load` gives an interior
 * node's bytes, or undefined when it is not at hand (nothing below it is
 * met). Used by the leaf index, the download's expansion, gc, CAR export,
 * import and verification.
 */
export async function * walkDag (roots: CID[], load: (cid: CID) => Promise<Uint8Array | undefined>, options: WalkOptions = {}): AsyncGenerator<DagStep> {
  let node: { bytes: Uint8Array, links: Array<{ cid: CID, size: number }> } | undefined
  const read = async (cid: CID): Promise<Array<DagLink<number>> | undefined> => {
    const bytes = await load(cid)
    if (bytes == null) return undefined
    const links = sizedLinks(cid, bytes)
    node = { bytes, links }
    return links.map(l => ({ cid: l.cid, at: l.size }))
  }
  const expand = ({ cid }: DagVisit<number>): Promise<Array<DagLink<number>> | undefined> | undefined => {
    node = undefined
    return isInterior(cid) ? read(cid) : undefined
  }
  // the visit just expanded is the one yielded next: its node is at hand
  for await (const visit of walkDagWith(roots.map(cid => ({ cid, at: 0 })), expand, options)) {
    yield node == null ? { cid: visit.cid, size: visit.at, depth: visit.depth } : { cid: visit.cid, size: visit.at, depth: visit.depth, bytes: node.bytes, links: node.links }
  }
}
