import { isInterior, sizedLinks } from './dag.js'
import type { CID } from 'multiformats/cid'

/** One block met by `walkDag`. */
export interface DagStep {
  cid: CID
  /** The size its parent names for it (dag-pb `Tsize`; 0 for a root). */
  size: number
  /**
   * An interior node's bytes, when `load` found them; undefined for a leaf
   * (its bytes are not needed to walk on) and for a missing interior node
   * (nothing below it is known).
   */
  bytes?: Uint8Array
  /** Its links with the sizes they name, when `bytes` is set. */
  links?: Array<{ cid: CID, size: number }>
}

export interface WalkOptions {
  /** Blocks not to visit (nor anything below them), e.g. ones already seen. */
  skip?(cid: CID): boolean
}

/**
 * Walk a DAG depth first, left to right — file order for UnixFS — yielding
 * every block below `roots` once per link (a leaf repeated in the file is
 * met again, unless `skip` says otherwise). `load` gives an interior node's
 * bytes, or undefined when it is not at hand. The one DAG walk of Shoal: the
 * leaf index, the download's expansion and gc's reachability all use it.
 */
export async function * walkDag (roots: CID[], load: (cid: CID) => Promise<Uint8Array | undefined>, options: WalkOptions = {}): AsyncGenerator<DagStep> {
  const stack: Array<{ cid: CID, size: number }> = roots.map(cid => ({ cid, size: 0 })).reverse()
  while (stack.length > 0) {
    const step = stack.pop()!
    if (options.skip?.(step.cid) === true) continue
    if (!isInterior(step.cid)) {
      yield step
      continue
    }
    const bytes = await load(step.cid)
    if (bytes == null) {
      yield step
      continue
    }
    const links = sizedLinks(step.cid, bytes)
    yield { ...step, bytes, links }
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i])
  }
}
