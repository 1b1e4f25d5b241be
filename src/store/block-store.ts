import fs from 'node:fs/promises'
import path from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import { logger } from '@libp2p/logger'
import { BlockNotFoundError, BlockVerificationError } from '../errors.js'
import { verifyBlock } from '../content/verify.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const log = logger('shoal:block-store')

export interface BlockStoreStats {
  blocks: number
  bytes: number
}

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
  readonly path: string

  constructor (dir: string) {
    this.path = dir
    this.fs = new FsBlockstore(dir, { shardingStrategy: this.sharding })
  }

  async open (): Promise<void> {
    await this.fs.open()
  }

  async close (): Promise<void> {
    await this.fs.close()
  }

  async has (cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.fs.has(cid, options)
  }

  async put (block: VerifiedBlock, options?: AbortOptions): Promise<void> {
    if (await this.fs.has(block.cid, options)) {
      return
    }
    await this.fs.put(block.cid, block.bytes, options)
  }

  /**
   * Read a block and check it against its CID. A block that fails the check is
   * deleted (so that it can be fetched again) and `BlockVerificationError`
   * is thrown; a missing block throws `BlockNotFoundError`.
   */
  async get (cid: CID, options?: AbortOptions): Promise<VerifiedBlock> {
    const bytes = await this.readRaw(cid, options)
    try {
      return verifyBlock(cid, bytes)
    } catch (err) {
      if (err instanceof BlockVerificationError) {
        log.error('block %s failed verification on disk; removing it', cid)
        await this.fs.delete(cid).catch(() => {})
      }
      throw err
    }
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    await this.fs.delete(cid, options)
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
        log('ignoring foreign file %s', file.path)
        continue
      }
      yield { cid, size: file.size }
    }
  }

  async stats (options?: AbortOptions): Promise<BlockStoreStats> {
    let blocks = 0
    let bytes = 0
    for await (const file of this.files(options)) {
      blocks++
      bytes += file.size
    }
    return { blocks, bytes }
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
