import { STORAGE_COLLECT_MIN } from './constants.js'
import type { BlockStore } from './block-store.js'
import type { RefStore } from './refs/ref-store.js'

/** What this peer keeps on disk, part by part (bytes, and files or blocks). */
export interface StorageUse {
  /** Block files in the repo: interior nodes, copies (`add --copy`, imports), blocks read and kept by nothing yet. */
  blocks: { count: number, bytes: number }
  /** Of the block files, about how many bytes were stored by reads (cat, export, the gateway) since the last gc: gc frees them unless something kept them since. */
  cache: number
  /** Replicas' data in the repo (`packs/`), complete or being fetched. */
  packs: { count: number, bytes: number }
  /** The user's files shared in place (added, or fetched and complete): the user's, not the repo's. */
  shared: { count: number, bytes: number }
  /** Unfinished gets' outputs (`.part` files), written so far: the user's. */
  partial: { count: number, bytes: number }
  /** What the repo itself holds, blocks and packs: what `maxStorage` limits. */
  repo: number
  /** `maxStorage` (0: no limit). */
  limit: number
}

/**
 * The one account of what this peer stores, from the counters the stores
 * keep (nothing is walked or read): block files and what reads stored among
 * them, replica packs, and the files held by reference. `repo` is what
 * `--max-storage` limits: every byte in the repo, which holds what this peer
 * keeps for others (replicas, what it read for the gateway) and its own
 * interior nodes and copies; the user's files shared in place are outside
 * it.
 */
export class StorageAccountant {
  private readonly blocks: BlockStore
  private readonly refs: RefStore
  private readonly limit: number
  private cached = 0

  constructor (blocks: BlockStore, refs: RefStore, init: { maxStorage: number }) {
    this.blocks = blocks
    this.refs = refs
    this.limit = init.maxStorage
  }

  /** A read stored `bytes` of new block files. */
  readStored (bytes: number): void {
    this.cached += bytes
  }

  /** A gc removed `bytes` of block files: what reads stored is taken to be among them first. */
  collected (bytes: number): void {
    this.cached = Math.max(0, this.cached - bytes)
  }

  use (): StorageUse {
    const blocks = this.blocks.stats()
    const refs = this.refs.usage()
    return {
      blocks: { count: blocks.blocks, bytes: blocks.bytes },
      cache: Math.min(this.cached, blocks.bytes),
      packs: { count: refs.packs.files, bytes: refs.packs.bytes },
      shared: { count: refs.shared.files, bytes: refs.shared.bytes },
      partial: { count: refs.partial.files, bytes: refs.partial.bytes },
      repo: blocks.bytes + refs.packs.bytes,
      limit: this.limit
    }
  }

  /** Bytes in the repo: what `maxStorage` limits. */
  repoBytes (): number {
    return this.blocks.stats().bytes + this.refs.usage().packs.bytes
  }

  /**
   * Whether the repo is past its limit with at least `STORAGE_COLLECT_MIN`
   * of blocks that reads stored: a gc would free them (what else is past
   * the limit, a gc cannot help with).
   */
  get overLimit (): boolean {
    return this.limit > 0 && this.cached >= STORAGE_COLLECT_MIN && this.repoBytes() > this.limit
  }
}
