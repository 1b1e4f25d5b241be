import fs from 'node:fs/promises'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import { defaultLogger } from '@libp2p/logger'
import { BlockNotFoundError, BlockVerificationError } from '../errors.js'
import { blockKey, isInterior } from '../content/dag.js'
import { verifyBlock } from '../content/verify.js'
import type { RefStore } from './refs/ref-store.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface BlockStoreStats {
  blocks: number
  bytes: number
}

/**
 * Which blocks a sweep keeps, by `blockKey`. Computed while the sweep is
 * already recording writes, so a block stored meanwhile is spared even when
 * the walk that built the set could not reach it yet.
 */
export type KeepSet = (key: string) => boolean

/**
 * The repo's blocks, one file per block (`blockstore-fs`, written to a
 * temporary file and renamed, so a crash never leaves a torn block).
 *
 * Every block is verified against its CID on the way in (`put` takes only a
 * `VerifiedBlock`) and again on the way out (`get`): a block that rotted on
 * disk is removed and reported as missing, never served.
 */
export class BlockStore {
  private readonly fs: FsBlockstore
  private readonly sharding = new NextToLast()
  /** keys with a `put` under way, and how many */
  private readonly writing = new Map<string, number>()
  /** for each running sweep, the keys written since it began */
  private readonly sweeps = new Set<Set<string>>()
  /** keys a sweep is deleting right now; a `put` of one waits for it */
  private readonly deleting = new Map<string, Promise<void>>()
  /** the last `put` of each key under way: puts of one key run one after another, so each new file is counted once */
  private readonly putting = new Map<string, Promise<boolean>>()
  /** blocks and bytes on disk: counted once at open, then kept by every put and delete */
  private totals: BlockStoreStats = { blocks: 0, bytes: 0 }
  readonly path: string
  /** Leaves held by reference in files outside the store (set by the repo once its datastore is open). */
  refs?: RefStore

  private readonly log: Logger

  /** `logger`: the node's (by default one of its own). */
  constructor (dir: string, logger: ComponentLogger = defaultLogger()) {
    this.path = dir
    this.log = logger.forComponent('shoal:block-store')
    this.fs = new FsBlockstore(dir, { shardingStrategy: this.sharding })
  }

  async open (): Promise<void> {
    await this.fs.open()
    this.totals = await this.count()
  }

  async close (): Promise<void> {
    await this.fs.close()
  }

  /** Whether the block is here: as a block file, or as a leaf in a referenced file that is still as it was. */
  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    if (await this.fs.has(cid, options)) return true
    return !isInterior(cid) && this.refs != null && await this.refs.has(cid)
  }

  /** Whether the block is here as a block file of its own (not by reference). */
  async hasCopy (cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.fs.has(cid, options)
  }

  /** Store a verified block; whether it was new here (false: a copy was here already). */
  async put (block: VerifiedBlock, options?: AbortOptions): Promise<boolean> {
    // registered before anything is awaited: a sweep either sees this key
    // (and spares it) or has already begun deleting it (and we wait, then write)
    const key = blockKey(block.cid)
    for (const written of this.sweeps) written.add(key)
    this.writing.set(key, (this.writing.get(key) ?? 0) + 1)
    const write = (this.putting.get(key) ?? Promise.resolve()).catch(() => {}).then(async () => {
      await this.deleting.get(key)
      if (await this.fs.has(block.cid, options)) return false
      await this.fs.put(block.cid, block.bytes, options)
      this.totals.blocks++
      this.totals.bytes += block.bytes.byteLength
      return true
    })
    this.putting.set(key, write)
    try {
      return await write
    } finally {
      if (this.putting.get(key) === write) this.putting.delete(key)
      const n = this.writing.get(key) ?? 1
      if (n <= 1) this.writing.delete(key)
      else this.writing.set(key, n - 1)
    }
  }

  /**
   * Delete every block that `keepSet` (computed by the caller once the sweep
   * has begun) does not keep, except blocks written, or being written, since
   * the sweep began: a download running beside a gc stores blocks the gc's
   * walk could not see yet, and those must survive it.
   */
  async sweep (keepSet: () => Promise<KeepSet>, options?: AbortOptions): Promise<BlockStoreStats> {
    const written = new Set(this.writing.keys())
    this.sweeps.add(written)
    let blocks = 0
    let bytes = 0
    try {
      const keep = await keepSet()
      for await (const { cid, size } of this.entries(options)) {
        const key = blockKey(cid)
        if (keep(key) || written.has(key)) continue
        // checked and marked in one step: a put of this key from now on waits for the delete
        const deletion = this.fs.delete(cid, options).finally(() => { this.deleting.delete(key) })
        this.deleting.set(key, deletion)
        await deletion
        this.uncount(size)
        blocks++
        bytes += size
      }
    } finally {
      this.sweeps.delete(written)
    }
    return { blocks, bytes }
  }

  /**
   * Read a block and check it against its CID. A block that fails the check is
   * deleted (so that it can be fetched again) and `BlockVerificationError`
   * is thrown; a missing block throws `BlockNotFoundError`. A leaf with no
   * block file is read from a referenced file, verified the same way.
   */
  async get (cid: CID, options?: AbortOptions): Promise<VerifiedBlock> {
    if (this.refs != null && !isInterior(cid)) {
      // most leaves are held by reference: looked up there first (no failed open of a block file)
      try {
        return await this.refs.read(cid, options)
      } catch (err) {
        if (!(err instanceof BlockNotFoundError)) throw err
      }
    }
    return await this.getCopy(cid, options)
  }

  /** Read a block file (not a reference) and check it; see `get`. */
  private async getCopy (cid: CID, options?: AbortOptions): Promise<VerifiedBlock> {
    const bytes = await this.readRaw(cid, options)
    try {
      return verifyBlock(cid, bytes)
    } catch (err) {
      if (err instanceof BlockVerificationError) {
        this.log.error('block %s failed verification on disk; removing it', cid)
        await this.fs.delete(cid).then(() => { this.uncount(bytes.byteLength) }, () => {})
      }
      throw err
    }
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    const size = await fs.stat(this.pathOf(cid)).then(st => st.size, () => undefined)
    await this.fs.delete(cid, options)
    if (size != null) this.uncount(size)
  }

  /**
   * Every block in the store with its size on disk (reads the directory tree,
   * not the blocks). Files are named by multihash, so the CIDs listed carry no
   * codec: compare them with `blockKey`.
   */
  async * entries (options?: AbortOptions): AsyncGenerator<{ cid: CID, size: number }> {
    for await (const file of this.files(options)) {
      let cid: CID
      try {
        cid = this.sharding.decode(file.path)
      } catch {
        this.log('ignoring foreign file %s', file.path)
        continue
      }
      yield { cid, size: file.size }
    }
  }

  /** Blocks and bytes on disk, from counters (no directory walk). */
  stats (): BlockStoreStats {
    return { ...this.totals }
  }

  /** Walk the store to count its blocks and bytes (once, at open). */
  private async count (options?: AbortOptions): Promise<BlockStoreStats> {
    let blocks = 0
    let bytes = 0
    for await (const file of this.files(options)) {
      blocks++
      bytes += file.size
    }
    return { blocks, bytes }
  }

  private uncount (bytes: number): void {
    this.totals.blocks = Math.max(0, this.totals.blocks - 1)
    this.totals.bytes = Math.max(0, this.totals.bytes - bytes)
  }

  /** The path a block is stored at (tests use it to corrupt a block on purpose). */
  pathOf (cid: CID): string {
    const { dir, file } = this.sharding.encode(cid)
    return path.join(this.path, dir, file)
  }

  /**
   * Adapters for the UnixFS importer and exporter, which speak the
   * `interface-blockstore` shape. The importer's blocks are verified like any
   * other before they are written.
   */
  importerStore (): { put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<CID> } {
    return {
      put: async (cid, bytes, options) => {
        await this.put(verifyBlock(cid, bytes), options)
        return cid
      }
    }
  }

  exporterStore (): { get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> } {
    const get = this.get.bind(this)
    return {
      async * get (cid, options) {
        yield (await get(cid, options)).bytes
      }
    }
  }

  private async readRaw (cid: CID, options?: AbortOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    try {
      return await fs.readFile(this.pathOf(cid), { signal: options?.signal })
    } catch (err: any) {
      if (err.code === 'ENOENT') {
        throw new BlockNotFoundError(`block ${cid.toString()} is not in the store`)
      }
      throw err
    }
  }

  private async * files (options?: AbortOptions): AsyncGenerator<{ path: string, size: number }> {
    let shards: string[]
    try {
      shards = await fs.readdir(this.path)
    } catch (err: any) {
      if (err.code === 'ENOENT') return
      throw err
    }
    for (const shard of shards) {
      options?.signal?.throwIfAborted()
      const dir = path.join(this.path, shard)
      let names: string[]
      try {
        names = await fs.readdir(dir)
      } catch {
        continue
      }
      for (const name of names) {
        if (!name.endsWith('.data') || name.startsWith('.')) continue
        const file = path.join(dir, name)
        try {
          const st = await fs.stat(file)
          yield { path: file, size: st.size }
        } catch {
          // removed while listing
        }
      }
    }
  }
}
