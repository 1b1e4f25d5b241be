import { AbortError } from '@libp2p/interface'
import { exporter } from 'ipfs-unixfs-exporter'
import { carOf, carOfBlocks, carOfDag } from '../content/car.js'
import { fileBlocks, readFileContent } from '../content/file-reader.js'
import { BlockNotFoundError, NotAFileError } from '../errors.js'
import { anySignal } from '../signals.js'
import { BlockArrivals } from './block-arrivals.js'
import { OnDemandBlocks, resolvePath } from './paths.js'
import type { Fetcher } from './fetcher.js'
import type { Lease, LeaseKind, Leases } from './leases.js'
import type { ResolvedPath } from './paths.js'
import type { ByteRange } from '../content/file-reader.js'
import type { Exchange, FetchOptions } from '../exchange/exchange.js'
import type { FetchProgress } from '../exchange/session-types.js'
import type { BlockWriter } from '../exchange/block-sink.js'
import type { BlockStore } from '../store/block-store.js'
import type { StorageAccountant } from '../store/storage.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface GetOptions {
  /** A path under the CID (`dir/file`): only the blocks on the way and under it are fetched. */
  path?: string[]
  /** The CID is a block or sub-DAG of this root: holders are looked for by it (set when a path is resolved). */
  holdersOf?: CID
  pin?: boolean
  force?: boolean
  signal?: AbortSignal
  providerTimeout?: number
  onProgress?(progress: FetchProgress): void
  /** No holder found yet: still searching; it gives up when `timeout` ms (the whole search, from its start) pass with none found. */
  onSearching?(timeout: number): void
  /** Every block is on disk and verified; the output is being written to `target`. */
  onWriting?(target: string): void
}

/** One entry of a directory; `size` is what its link names (the entry's DAG, in bytes). */
export interface DirectoryEntry {
  name: string
  cid: CID
  size: number
}

/** What of a DAG a reader (the gateway) wants, as the trustless gateway's `dag-scope` says it. */
export type DagScope = 'block' | 'entity' | 'all'

export interface ReadOptions extends GetOptions {
  /** Only these bytes of a file ([from, to)): only the blocks holding them are fetched. */
  range?: ByteRange
  /** false: only what is held here, fetching nothing (a missing block is a NotFoundError). */
  fetch?: boolean
}

export interface ReadsComponents {
  blocks: BlockStore
  exchange: Exchange
  fetcher: Fetcher
  leases: Leases
  /** Counts what reads store (kept by nothing once they end: gc frees it). */
  storage: StorageAccountant
  /** A read ended (the node collects garbage if reads took the repo past its limit). */
  readEnded?(): void
}

async function toBytes (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const first = await chunks[Symbol.asyncIterator]().next()
  if (first.done === true) throw new BlockNotFoundError('the block store gave an empty block')
  return first.value
}

/**
 * Content read out of this peer, fetched from the swarm as it is needed:
 * `cat` (a file's bytes while it downloads), paths, directory listings,
 * single blocks and CARs (the gateway's and `export`'s). `cat` and CAR
 * exports keep their root with a lease while they run (path resolution,
 * listings and single blocks read a few blocks and take none); a read pins
 * nothing: what it stored goes at the next gc unless something else keeps it.
 */
export class Reads {
  private readonly c: ReadsComponents
  /** Where reads' blocks go: the block store, counted as what reads stored. */
  private readonly writer: BlockWriter

  constructor (components: ReadsComponents) {
    this.c = components
    this.writer = {
      put: async (block, options) => {
        if (await this.c.blocks.put(block, options)) this.c.storage.readStored(block.byteLength)
      }
    }
  }

  /**
   * Stream a file's bytes while it downloads: the session fetches in file
   * order and the reader takes each block as soon as it is verified and
   * stored.
   */
  async * cat (root: CID, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const { cid, holdersOf } = await this.target(root, options)
    if (options.range != null || options.fetch === false) {
      // a part of the file: only the blocks that hold it, each fetched as it is needed
      const lease = await this.c.leases.take(cid, 'cat')
      try {
        const blocks = this.onDemand(holdersOf ?? cid, options)
        await checkFile(cid, blocks, options.signal)
        yield * readFileContent(cid, async c => await blocks.bytes(c, options), { signal: options.signal, range: options.range })
      } finally {
        this.ended(lease)
      }
      return
    }
    yield * this.whileFetching(cid, 'cat', { ...options, holdersOf }, async function * (blocks, signal) {
      await checkFile(cid, blocks, signal)
      yield * readFileContent(cid, async c => await toBytes(blocks.get(c, { signal })), { signal })
    })
  }

  /**
   * What `path` under `root` names: only the blocks on the way are read, each
   * fetched from the root's holders if it is not here (unless `fetch` is false).
   */
  async resolve (root: CID, options: ReadOptions = {}): Promise<ResolvedPath> {
    return await resolvePath(root, options.path ?? [], this.onDemand(root, options), options)
  }

  /** The CID a path names, and the root to find its holders by (when it is not the root itself). */
  async target (root: CID, options: GetOptions): Promise<{ cid: CID, holdersOf?: CID }> {
    if (options.path == null || options.path.length === 0) return { cid: root, holdersOf: options.holdersOf }
    const resolved = await this.resolve(root, options)
    return { cid: resolved.cid, holdersOf: options.holdersOf ?? root }
  }

  /**
   * The entries of the directory at `path` under `root` (at most `limit`),
   * read from its own block (and a sharded one's shards), not the entries'.
   */
  async list (root: CID, options: ReadOptions & { limit?: number } = {}): Promise<DirectoryEntry[]> {
    const blocks = this.onDemand(root, options)
    const resolved = await resolvePath(root, options.path ?? [], blocks, options)
    if (resolved.type !== 'directory') throw new NotAFileError(`${[root.toString(), ...resolved.path].join('/')} is not a directory`)
    const limit = options.limit ?? 10_000
    const entry = await exporter(resolved.cid, blocks, { signal: options.signal })
    if (entry.type !== 'directory') throw new NotAFileError(`${resolved.cid.toString()} is not a directory`)
    const out: DirectoryEntry[] = []
    for await (const child of entry.entries({ signal: options.signal, length: limit })) {
      out.push({ name: child.name, cid: child.cid, size: Number(child.size) })
    }
    return out
  }

  /** One block, from here or fetched alone from the holders of `holdersOf` (the block itself by default). */
  async block (cid: CID, options: ReadOptions = {}): Promise<Uint8Array> {
    return await this.onDemand(options.holdersOf ?? cid, options).bytes(cid, options)
  }

  /**
   * A CAR of what `scope` says of the content at `path` under `root`, after
   * the blocks that lead there from the root (so a client verifies the path):
   * `block` its own block, `entity` a file whole (or its `range`) or a
   * directory's own block, `all` the whole DAG under it.
   */
  async * exportScoped (root: CID, scope: DagScope, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const resolved = await this.resolve(root, options)
    const { cid } = resolved
    const lead = resolved.blocks.filter(c => !c.equals(cid))
    const whole = scope === 'all' || (scope === 'entity' && resolved.type === 'file' && options.range == null)
    if (whole && options.fetch !== false) {
      // the DAG under the target while it downloads, as an export does (the lead blocks are here already)
      yield * this.whileFetching(cid, 'export', { ...options, holdersOf: root }, (arrivals, signal) =>
        carOfDag([root], lead, [cid], async c => await toBytes(arrivals.get(c, { signal })), { signal }))
      return
    }
    const blocks = this.onDemand(root, options)
    const get = async (c: CID): Promise<Uint8Array> => await blocks.bytes(c, options)
    const lease = await this.c.leases.take(cid, 'read')
    try {
      if (whole) {
        yield * carOfDag([root], lead, [cid], get, options)
      } else if (scope === 'block' || resolved.type !== 'file') {
        yield * carOfBlocks([root], [...lead, cid].map(c => ({ cid: c })), get, options)
      } else {
        const steps = concat(lead.map(c => ({ cid: c })), fileBlocks(cid, get, options.range ?? { from: 0, to: Infinity }, options.signal))
        yield * carOfBlocks([root], steps, get, options)
      }
    } finally {
      this.ended(lease)
    }
  }

  /**
   * Stream the DAG under `cid` as a CAR (every block once, depth first)
   * while it downloads, like `cat`.
   */
  exportCar (cid: CID, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    if (options.path != null && options.path.length > 0) return this.exportScoped(cid, 'all', options)
    return this.whileFetching(cid, 'export', options, (blocks, signal) => carOf([cid], async c => await toBytes(blocks.get(c, { signal })), { signal }))
  }

  /** Blocks from here, or fetched one at a time from the holders of `holdersOf`. */
  private onDemand (holdersOf: CID, options: ReadOptions): OnDemandBlocks {
    if (options.fetch === false) return new OnDemandBlocks(this.c.blocks, undefined)
    return new OnDemandBlocks(this.c.blocks, async (cid, opts) => {
      await this.c.exchange.fetch(cid, { signal: opts.signal ?? options.signal, providerTimeout: options.providerTimeout, holdersOf, scope: 'block', writer: this.writer })
    })
  }

  /**
   * Run `read` over the blocks of `cid` while they download (in DAG order):
   * `read` gets a store whose `get` waits for a block not here yet. The root
   * is leased until the read ends.
   */
  private async * whileFetching<T> (cid: CID, kind: LeaseKind, options: GetOptions, read: (blocks: BlockArrivals, signal: AbortSignal) => AsyncGenerator<T>): AsyncGenerator<T> {
    const controller = new AbortController()
    const signal = anySignal(controller.signal, options.signal)
    const lease = await this.c.leases.take(cid, kind)
    const arrivals = new BlockArrivals(this.c.blocks, signal)
    const fetchOptions: FetchOptions = { ...options, signal, sequential: true, writer: this.writer, onStored: c => { arrivals.stored(c) } }
    const fetching = this.c.fetcher.fetch(cid, fetchOptions)
    fetching.then(() => { arrivals.complete() }, err => { arrivals.fail(err) })
    try {
      yield * read(arrivals, signal)
      await fetching
    } finally {
      controller.abort(new AbortError('read finished'))
      await fetching.catch(() => {})
      this.ended(lease)
    }
  }

  private ended (lease: Lease): void {
    lease.release()
    this.c.readEnded?.()
  }
}

/** Throws NotAFileError unless `cid` is a file (UnixFS file, raw or identity block). */
async function checkFile (cid: CID, blocks: { get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> }, signal?: AbortSignal): Promise<void> {
  const entry = await exporter(cid, blocks, { signal })
  if (entry.type !== 'file' && entry.type !== 'raw' && entry.type !== 'identity') {
    throw new NotAFileError(`${cid.toString()} is a ${entry.type}, not a file (use get)`)
  }
}

async function * concat<T> (...parts: Array<Iterable<T> | AsyncIterable<T>>): AsyncGenerator<T> {
  for (const part of parts) yield * part
}
