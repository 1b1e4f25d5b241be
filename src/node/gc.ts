import { blockKey } from '../content/dag.js'
import { walkDag } from '../content/dag-walk.js'
import { GcLock } from './gc-lock.js'
import type { Announcer } from '../routing/announcer.js'
import type { SwarmRegistry } from '../exchange/swarm-registry.js'
import type { BlockStore } from '../store/block-store.js'
import type { PinStore } from '../store/pin-store.js'
import type { RefStore } from '../store/ref-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface GarbageCollectorComponents {
  blocks: BlockStore
  pins: PinStore
  refs: RefStore
  announcer: Announcer
  swarms: SwarmRegistry
}

/**
 * Garbage collection: deletes every block not reachable from a pin (whatever
 * its reasons: a download in progress keeps its partial blocks) or from a
 * root in use by a running operation, drops the references to files of the
 * roots that go (a user's file itself is never touched; a replica's pack in
 * the repo is deleted), stops announcing those roots and leaves their swarms. Ordered against adds and downloads by a `GcLock`.
 */
export class GarbageCollector {
  private readonly c: GarbageCollectorComponents
  private readonly lock = new GcLock()
  private readonly inUse = new Map<string, { cid: CID, users: number }>()
  /** Collections run since the daemon started, and what they removed. */
  readonly totals = { runs: 0, blocks: 0, bytes: 0 }

  constructor (components: GarbageCollectorComponents) {
    this.c = components
  }

  /** Run `fn` (an add: blocks stored, then pinned) with no gc in between. */
  async writing<T> (fn: () => Promise<T>): Promise<T> {
    return await this.lock.writing(fn)
  }

  /**
   * Mark a root in use until the returned function is called: gc keeps its
   * blocks even when another operation on the same root has finished and
   * cleared its download marker.
   */
  async use (cid: CID): Promise<() => void> {
    // a gc that is running decided what to keep without this root
    await this.lock.idle()
    const key = cid.toString()
    const entry = this.inUse.get(key) ?? { cid, users: 0 }
    entry.users++
    this.inUse.set(key, entry)
    let released = false
    return () => {
      if (released) return
      released = true
      if (--entry.users === 0) this.inUse.delete(key)
    }
  }

  /**
   * Delete every block not reachable from a pin or a root in use. `givingUp`:
   * a root whose blocks go too, though its pin could not be removed yet (a
   * full disk). Returns what was removed.
   */
  async collect (options: AbortOptions = {}, givingUp?: CID): Promise<{ blocks: number, bytes: number }> {
    const removed = await this.lock.collect(async () => await this.sweep(options, givingUp))
    this.totals.runs++
    this.totals.blocks += removed.blocks
    this.totals.bytes += removed.bytes
    return removed
  }

  private async sweep (options: AbortOptions, givingUp?: CID): Promise<{ blocks: number, bytes: number }> {
    // the store records what downloads write from here on and spares it
    let kept = new Set<string>()
    const swept = await this.c.blocks.sweep(async () => {
      const roots: CID[] = []
      for await (const pin of this.c.pins.pins(options)) {
        if (givingUp == null || !pin.cid.equals(givingUp)) roots.push(pin.cid)
      }
      for (const { cid } of this.inUse.values()) roots.push(cid)
      kept = new Set(roots.map(r => r.toString()))
      const keep = await this.reachable(roots, options)
      // stop announcing roots that are going (fetched with --no-pin, or unpinned), and leave their swarms
      const isKept = (root: CID): boolean => kept.has(root.toString())
      for (const root of this.c.announcer.roots()) {
        if (!isKept(root)) this.c.announcer.withdraw(root)
      }
      this.c.swarms.retireUnless(isKept)
      return key => keep.has(key)
    }, options)
    // a download that began since is in use: its root was kept above
    const refs = await this.c.refs.sweep(root => kept.has(root) || [...this.inUse.keys()].includes(root), options)
    return { blocks: swept.blocks, bytes: swept.bytes + refs.bytes }
  }

  /** The keys of every stored block reachable from `roots`. */
  private async reachable (roots: CID[], options: AbortOptions): Promise<Set<string>> {
    const keep = new Set<string>()
    // a missing interior node (a partial download): nothing below it is known
    const load = async (cid: CID): Promise<Uint8Array | undefined> => await this.c.blocks.get(cid, options).then(b => b.bytes, () => undefined)
    for await (const { cid } of walkDag(roots, load, { skip: cid => keep.has(blockKey(cid)) })) {
      keep.add(blockKey(cid))
    }
    return keep
  }
}
