import { exporter } from 'ipfs-unixfs-exporter'
import { InputError, NotFoundError } from '../errors.js'
import type { BlockStore } from '../store/block-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** A path inside a root, resolved: the CID it names and what it is. */
export interface ResolvedPath {
  root: CID
  path: string[]
  cid: CID
  type: 'file' | 'directory' | 'raw' | 'other'
  /** A file's size in bytes (0 for a directory). */
  size: number
  /** The blocks read to walk from the root to the target (the target's own last), in order. */
  blocks: CID[]
}

/** Fetches one missing block (its own block only) from the holders of a root. */
export type FetchBlock = (cid: CID, options: AbortOptions) => Promise<void>

/**
 * A read-only block store for the UnixFS exporter: a block missing here is
 * fetched (that block alone) before it is read, and every block read is
 * noted. A walk down a path through it fetches the path's blocks and
 * nothing else.
 */
export class OnDemandBlocks {
  readonly read: CID[] = []

  constructor (private readonly blocks: BlockStore, private readonly fetchBlock: FetchBlock | undefined) {}

  async * get (cid: CID, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    yield await this.bytes(cid, options)
  }

  async bytes (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    if (!(await this.blocks.has(cid))) {
      if (this.fetchBlock == null) throw new NotFoundError(`block ${cid.toString()} is not held here`)
      await this.fetchBlock(cid, options)
    }
    this.read.push(cid)
    return (await this.blocks.get(cid, options)).bytes
  }
}

/** A path's segments as given (`a/b`, `/a//b/`): empty ones dropped, `.` and `..` refused. */
export function pathSegments (path: string | string[] | undefined): string[] {
  const parts = (Array.isArray(path) ? path : (path ?? '').split('/')).filter(p => p !== '')
  for (const p of parts) {
    if (p === '.' || p === '..') throw new InputError(`a content path cannot contain "${p}"`)
  }
  return parts
}

/**
 * The CID at `path` under `root`, reading (and fetching, through `blocks`)
 * only the blocks on the way: each directory on the path, and the shards of
 * a sharded one. A name that is not there is a NotFoundError.
 */
export async function resolvePath (root: CID, segments: string[], blocks: OnDemandBlocks, options: AbortOptions = {}): Promise<ResolvedPath> {
  const path = pathSegments(segments)
  let entry
  try {
    entry = await exporter([root.toString(), ...path].join('/'), blocks, { signal: options.signal })
  } catch (err: any) {
    if (err?.name === 'NotFoundError' && !(err instanceof NotFoundError)) {
      throw new NotFoundError(`no ${path.join('/')} under ${root.toString()}`)
    }
    if (err?.name === 'NotUnixFSError' || err?.name === 'NoResolverError') {
      throw new InputError(`${[root.toString(), ...path].join('/')} is not UnixFS content: ${err.message}`)
    }
    throw err
  }
  const type = entry.type === 'file' || entry.type === 'directory' || entry.type === 'raw' ? entry.type : 'other'
  const size = type === 'directory' ? 0 : Number(entry.size)
  const seen = new Set<string>()
  const read = blocks.read.filter(c => !seen.has(c.toString()) && seen.add(c.toString()) != null)
  return { root, path, cid: entry.cid, type, size, blocks: read }
}
