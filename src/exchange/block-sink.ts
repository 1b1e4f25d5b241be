import type { VerifiedBlock } from '../content/verify.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * Where a download's verified blocks are written: the block store, or a
 * layout that writes leaves in place into the output.
 */
export interface BlockWriter {
  put(block: VerifiedBlock, options?: AbortOptions): Promise<unknown>
  /** An interior node of the DAG another download stored (a layout places its children). */
  seen?(cid: CID, bytes: Uint8Array): Promise<void>
}

export interface BlockSinkInit {
  /**
   * Verified blocks being written before the session asks for no more: the
   * network may outrun the disk, and memory must not grow with the file.
   */
  maxPending: number
  /** The sink was full and has room again. */
  onRoom(): void
  /** Storing `cid`, or what follows it, failed. */
  onError(cid: CID, err: Error): void
}

/**
 * Where one download's verified blocks go: each is put in the store, then
 * `landed` runs (walking what an interior node reveals, telling the swarm).
 * At most `maxPending` writes are in progress; `flush` waits for them all.
 */
export class BlockSink {
  private readonly blocks: BlockWriter
  private readonly init: BlockSinkInit
  private readonly writes = new Set<Promise<void>>()

  constructor (blocks: BlockWriter, init: BlockSinkInit) {
    this.blocks = blocks
    this.init = init
  }

  get hasRoom (): boolean {
    return this.writes.size < this.init.maxPending
  }

  write (block: VerifiedBlock, landed: () => Promise<void>): void {
    this.track(block.cid, async () => {
      await this.blocks.put(block)
      await landed()
    })
  }

  /** A block another download stored: only `landed` runs, counted among the writes in progress. */
  adopt (cid: CID, landed: () => Promise<void>): void {
    this.track(cid, landed)
  }

  private track (cid: CID, work: () => Promise<void>): void {
    const write = (async () => {
      try {
        await work()
      } catch (err: any) {
        this.init.onError(cid, err)
      }
    })()
    this.writes.add(write)
    void write.finally(() => {
      const wasFull = !this.hasRoom
      this.writes.delete(write)
      if (wasFull) this.init.onRoom()
    })
  }

  /** Every write started so far has ended (blocks already verified are on disk). */
  async flush (): Promise<void> {
    await Promise.allSettled(this.writes)
  }
}
