import { exporter } from 'ipfs-unixfs-exporter'
import { InputError, isDiskFull } from '../errors.js'
import type { GarbageCollector } from './gc.js'
import type { Announcer } from '../routing/announcer.js'
import type { BlockStore } from '../store/block-store.js'
import type { Pin, PinReason, PinStore } from '../store/pin-store.js'
import type { RefState, RefStore } from '../store/refs/ref-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface PinningComponents {
  blocks: BlockStore
  pins: PinStore
  refs: RefStore
  announcer: Announcer
  gc: GarbageCollector
  /** Stop holding a replica of `root` (its other holders repair); whether it was one. */
  dropReplica(root: CID): Promise<boolean>
  /** The state of the files a root is served from (`ok` when every block of it is held in good files or copies). */
  rootState(root: CID | string): RefState
  /** Give up the unfinished gets of `root` (running ones are stopped first); how many there were. */
  giveUpGets(root: CID): Promise<number>
  /** Write the datastore out (after a pin went on a full disk). */
  flushDatastore(): Promise<void>
  /** The repo's reserve of space: given back for a write that must happen on a full disk, and taken again. */
  reserve: { release(): Promise<boolean>, keep(): Promise<void> }
}

/** What `rm` took away: the pin's reasons, and `download` for unfinished gets given up. */
export type Removed = PinReason | 'download'

/**
 * Why this peer keeps each root for good: the user's pins and replicas
 * (the reasons of `PinStore`), and what keeping or dropping one means for
 * announcing it. Nothing here deletes a block: that is gc's, and only for
 * roots nothing keeps.
 */
export class Pinning {
  private readonly c: PinningComponents

  constructor (components: PinningComponents) {
    this.c = components
  }

  /** Every root kept, oldest first, with the state of the files it is served from (`ok` for copies in the repo). */
  async ls (): Promise<Array<Pin & { state: RefState }>> {
    const pins: Array<Pin & { state: RefState }> = []
    for await (const pin of this.c.pins.pins()) pins.push({ ...pin, state: this.c.rootState(pin.cid) })
    return pins.sort((a, b) => a.created - b.created)
  }

  /** The state of the files `cid` is served from (`ok` when every block of it is held in good files or copies). */
  rootState (cid: CID): RefState {
    return this.c.rootState(cid)
  }

  /** A fetched root is all here: pin it for the user (unless `pin` is false) and announce it. */
  async keepFetched (cid: CID, name: string, exported: { type: 'file' | 'directory', size: number }, pin: boolean): Promise<boolean> {
    if (pin) await this.c.pins.pin({ cid, name, size: exported.size, type: exported.type, created: Date.now() }, 'user')
    this.c.announcer.announce(cid)
    return pin
  }

  /** Pin a root that is all here as a replica (named after its CID unless the user named it). */
  async keepReplica (root: CID, options: AbortOptions = {}): Promise<void> {
    const entry = await exporter(root, this.c.blocks.exporterStore(), { signal: options.signal })
    const type = entry.type === 'directory' ? 'directory' : 'file'
    const size = entry.type === 'directory' ? 0 : Number(entry.size)
    await this.c.pins.pin({ cid: root, name: root.toString(), size, type, created: Date.now() }, 'replica')
  }

  /** A replica is released: the user's pin, if any, keeps the root here (and announced). */
  async releaseReplica (root: CID): Promise<void> {
    await this.c.pins.unpin(root, ['replica'])
    if (!(await this.c.gc.isKept(root))) this.c.announcer.withdraw(root)
  }

  /**
   * Stop keeping a root for every reason it was kept: its unfinished gets
   * are given up (a running one stopped first, so it cannot pin the root
   * again as it ends), a replica dropped (the other holders see it go and
   * repair), the user's pin removed; its blocks go at the next gc. With
   * `downloadsOnly`, only the unfinished gets go and a pin stays. Returns
   * what it was kept for.
   */
  async rm (cid: CID, options: { downloadsOnly?: boolean } = {}): Promise<Removed[]> {
    const gaveUp = await this.c.giveUpGets(cid)
    if (options.downloadsOnly === true) {
      if (gaveUp === 0) throw new InputError(`${cid.toString()} has no unfinished get`)
      if (!(await this.c.gc.isKept(cid))) this.c.announcer.withdraw(cid)
      return ['download']
    }
    const wasReplica = await this.c.dropReplica(cid)
    let removed: Removed[]
    try {
      removed = await this.c.pins.unpin(cid)
    } catch (err) {
      if (!isDiskFull(err)) throw err
      // a full disk leaves no room even to record that the pin is gone: delete its
      // blocks first (nothing else refers to them), then forget it; with its leaves
      // kept by reference that frees little, and the repo's reserve is given back
      await this.c.gc.collect({}, cid)
      removed = await this.withReserve(async () => await this.c.pins.unpin(cid))
    }
    // durable on its own: a write that failed earlier for lack of space (a download's, say) may
    // have torn LevelDB's log, and what is appended after a torn record is lost in a crash. The
    // flush writes a table file, and one that fails stops LevelDB's writes until it is reopened:
    // the reserve is given back before it, not after
    await this.c.reserve.release()
    try {
      await this.c.flushDatastore()
    } finally {
      await this.c.reserve.keep()
    }
    if (wasReplica && !removed.includes('replica')) removed.push('replica')
    if (gaveUp > 0) removed.push('download')
    if (removed.length === 0) throw new InputError(`${cid.toString()} is not pinned`)
    // a read running now keeps it (and its references) until it ends; gc then drops them
    if (!(await this.c.gc.isKept(cid))) {
      this.c.announcer.withdraw(cid)
      // its references go now (the files themselves stay where they are); its blocks at the next gc
      const key = cid.toString()
      await this.withReserve(async () => { await this.c.refs.sweep(root => root !== key, { only: key }) })
    }
    return removed
  }

  /** `op`; on a full disk, `op` again with the repo's reserve of space given back for it (taken again after, if there is room). */
  private async withReserve<T> (op: () => Promise<T>): Promise<T> {
    try {
      return await op()
    } catch (err) {
      if (!isDiskFull(err) || !(await this.c.reserve.release())) throw err
      try {
        return await op()
      } finally {
        await this.c.reserve.keep()
      }
    }
  }
}
