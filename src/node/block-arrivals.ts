import { BlockNotFoundError } from '../errors.js'
import type { BlockStore } from '../store/block-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * A read-only block store for the UnixFS exporter during a download: `get`
 * returns a block from the store, waiting for it to arrive if the download
 * has not stored it yet. Lets `cat` stream a file while it is fetched.
 */
export class BlockArrivals {
  private readonly waiting = new Map<string, Array<{ resolve(): void, reject(err: Error): void }>>()
  private failure?: Error
  private done = false

  constructor (private readonly blocks: BlockStore, private readonly signal: AbortSignal) {}

  stored (cid: CID): void {
    const key = cid.toString()
    for (const w of this.waiting.get(key) ?? []) w.resolve()
    this.waiting.delete(key)
  }

  /** The download finished: every block is in the store. */
  complete (): void {
    this.done = true
    for (const list of this.waiting.values()) for (const w of list) w.resolve()
    this.waiting.clear()
  }

  fail (err: Error): void {
    this.failure = err
    for (const list of this.waiting.values()) for (const w of list) w.reject(err)
    this.waiting.clear()
  }

  async * get (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    // the download may complete while we look: then look once more before giving up
    const wasDone = this.done
    if (!(await this.blocks.has(cid))) {
      if (this.failure != null) throw this.failure
      if (this.done && (wasDone || !(await this.blocks.has(cid)))) throw new BlockNotFoundError(`block ${cid.toString()} is not in the store`)
      if (!this.done) {
        await new Promise<void>((resolve, reject) => {
          const key = cid.toString()
          const list = this.waiting.get(key) ?? []
          list.push({ resolve, reject })
          this.waiting.set(key, list)
          const signal = options?.signal ?? this.signal
          signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
          // it may have been stored between the first look and now
          this.blocks.has(cid).then(has => { if (has) resolve() }, reject)
        })
      }
    }
    yield (await this.blocks.get(cid, options)).bytes
  }
}
