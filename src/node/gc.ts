import { RAW_CODE, blockKey } from '../content/dag.js'
import { walkDag } from '../content/dag-walk.js'
import type { GcLock } from './gc-lock.js'
import type { Leases } from './leases.js'
import type { SwarmRegistry } from '../exchange/swarm-registry.js'
import type { Announcer } from '../routing/announcer.js'
import type { BlockStore } from '../store/block-store.js'
import type { GetStore } from '../store/get-store.js'
import type { PinStore } from '../store/pin-store.js'
import type { RefStore } from '../store/refs/ref-store.js'
import type { ReplicaRecord, ReplicaStore } from '../store/replica-store.js'
import type { StorageAccountant } from '../store/storage.js'
import type { AbortOptions, Logger } from '@libp2p/interface'
import { CID } from 'multiformats/cid'

export interface GarbageCollectorComponents {
  blocks: BlockStore
  pins: PinStore
  gets: GetStore
  replicas: ReplicaStore
  refs: RefStore
  leases: Leases
  lock: GcLock
  announcer: Announcer
  swarms: SwarmRegistry
  storage: StorageAccountant
  log: Logger
}

/**
 * Garbage collection, and the one answer to "what does this peer keep":
 * the roots of its pins (the user's, replicas), of its unfinished gets, of
 * the replicas it is fetching, and of the operations running now (leases).
 * Every block not reachable from one of those is deleted; references to
 * files of roots that go are dropped (a user's file itself is never touched;
 * a replica's pack in the repo is deleted); roots that go are withdrawn
 * from the DHT (also those provided before a restart) and their swarms left.
 * Ordered against adds by the `GcLock`; a download writing while a gc runs
 * holds a lease, and the block store spares what is written meanwhile.
 */
export class GarbageCollector {
  private readonly c: GarbageCollectorComponents
  /** Collections run since the daemon started, and what they removed. */
  readonly totals = { runs: 0, blocks: 0, bytes: 0 }

  constructor (components: GarbageCollectorComponents) {
    this.c = components
  }

  /** Run `fn` (an add: blocks stored, then pinned) with no gc in between. */
  async writing<T> (fn: () => Promise<T>): Promise<T> {
    return await this.c.lock.writing(fn)
  }

  /**
   * Delete every block not reachable from a kept root. `givingUp`: a root
   * whose blocks go too, though its pin could not be removed yet (a full
   * disk). Returns what was removed.
   */
  async collect (options: AbortOptions = {}, givingUp?: CID): Promise<{ blocks: number, bytes: number }> {
    const removed = await this.c.lock.collect(async () => await this.sweep(options, givingUp))
    this.c.storage.collected(removed.bytes)
    this.totals.runs++
    this.totals.blocks += removed.blocks
    this.totals.bytes += removed.bytes
    return removed
  }

  /** Every root kept now, by its string form (of a root we keep one fragment of, only that part is kept). */
  async kept (options: AbortOptions = {}): Promise<Map<string, CID>> {
    const { whole, fragments } = await this.keptParts(options)
    for (const f of fragments) whole.set(f.root.toString(), f.root)
    return whole
  }

  /**
   * The roots kept whole, and the erasure-coded roots of which only a
   * fragment is kept (and nothing keeps whole): their interior nodes, and
   * of a data fragment i its leaves of index i mod K.
   */
  private async keptParts (options: AbortOptions): Promise<{ whole: Map<string, CID>, fragments: Array<{ root: CID, k: number, fragment: number }> }> {
    const whole = new Map<string, CID>()
    const add = (cid: CID): void => { whole.set(cid.toString(), cid) }
    const coded: Array<{ root: CID, k: number, fragment: number }> = []
    for await (const pin of this.c.pins.pins(options)) add(pin.cid)
    for await (const get of this.c.gets.all(options)) add(get.cid)
    for await (const replica of this.c.replicas.all(options)) {
      const [root, ...more] = replicaRoots(replica)
      if (replica.erasure != null && replica.fragment != null) coded.push({ root, k: replica.erasure.k, fragment: replica.fragment })
      else add(root)
      for (const r of more) add(r)
    }
    for (const root of this.c.leases.roots()) add(root)
    return { whole, fragments: coded.filter(f => !whole.has(f.root.toString())) }
  }

  /** Whether anything keeps `root` now (the rule `kept` applies, for one root). */
  async isKept (root: CID, options: AbortOptions = {}): Promise<boolean> {
    if (this.c.leases.roots().some(r => r.equals(root))) return true
    if (await this.c.pins.isPinned(root, options)) return true
    if (await this.c.replicas.get(root, options) != null) return true
    for await (const replica of this.c.replicas.all(options)) if (replica.erasure != null && replicaRoots(replica).some(r => r.equals(root))) return true
    return (await this.c.gets.of(root, options)).some(g => g.cid.equals(root))
  }

  /**
   * Stop providing every root this peer no longer keeps: announced in this
   * run or an earlier one (the DHT renews its records until told otherwise).
   * Returns how many were withdrawn.
   */
  async withdrawUnkept (kept?: Map<string, CID>): Promise<number> {
    kept ??= await this.kept()
    let n = 0
    for (const root of await this.c.announcer.provided()) {
      if (kept.has(root.toString())) continue
      this.c.announcer.withdraw(root)
      n++
    }
    if (n > 0) this.c.log('stopped providing %d root(s) no longer kept here', n)
    return n
  }

  private async sweep (options: AbortOptions, givingUp?: CID): Promise<{ blocks: number, bytes: number }> {
    // the store records what downloads write from here on and spares it
    let kept = new Map<string, CID>()
    const swept = await this.c.blocks.sweep(async () => {
      const parts = await this.keptParts(options)
      if (givingUp != null) {
        parts.whole.delete(givingUp.toString())
        parts.fragments = parts.fragments.filter(f => !f.root.equals(givingUp))
      }
      kept = new Map(parts.whole)
      for (const f of parts.fragments) kept.set(f.root.toString(), f.root)
      const keep = await this.reachable([...parts.whole.values()], options)
      for (const f of parts.fragments) await this.fragmentReachable(f, keep, options)
      await this.withdrawUnkept(kept)
      this.c.swarms.retireUnless(root => kept.has(root.toString()))
      return key => keep.has(key)
    }, options)
    // still whole: no lease was taken meanwhile (a lease waits for a gc under way), and a get or
    // replica download takes its lease before it makes any file record
    const refs = await this.c.refs.sweep(root => kept.has(root), options)
    return { blocks: swept.blocks, bytes: swept.bytes + refs.bytes }
  }

  /**
   * Add to `keep` what one fragment keeps of its root: every interior node,
   * and of data fragment i the leaves of index i mod K (in DAG order, each
   * time a leaf is met, as the layout numbers them).
   */
  private async fragmentReachable (f: { root: CID, k: number, fragment: number }, keep: Set<string>, options: AbortOptions): Promise<void> {
    const load = async (cid: CID): Promise<Uint8Array | undefined> => await this.c.blocks.get(cid, options).then(b => b.bytes, () => undefined)
    let leaf = 0
    for await (const { cid } of walkDag([f.root], load, { signal: options.signal })) {
      if (cid.code !== RAW_CODE) keep.add(blockKey(cid))
      else if (leaf++ % f.k === f.fragment) keep.add(blockKey(cid))
    }
  }

  /** The keys of every stored block reachable from `roots`. */
  private async reachable (roots: CID[], options: AbortOptions): Promise<Set<string>> {
    const keep = new Set<string>()
    // a missing interior node (a partial download): nothing below it is known
    const load = async (cid: CID): Promise<Uint8Array | undefined> => await this.c.blocks.get(cid, options).then(b => b.bytes, () => undefined)
    // root by root, each block once: the walk's bound is per root, what one DAG may hold; a root past
    // it throws, and nothing is deleted (gc never guesses what a root it cannot walk would keep)
    for (const root of roots) {
      for await (const { cid } of walkDag([root], load, { unique: true, skip: cid => keep.has(blockKey(cid)), signal: options.signal })) {
        keep.add(blockKey(cid))
      }
    }
    return keep
  }
}

/**
 * What a replica record keeps: the root (of an erasure-coded one, what of
 * it is here: its interior nodes and our data fragment's leaves), and of an
 * erasure-coded root its layout and, for a parity fragment, that column.
 */
function replicaRoots (record: ReplicaRecord): CID[] {
  const e = record.erasure
  if (e == null) return [record.root]
  const roots = [record.root, CID.parse(e.layout)]
  if (record.fragment != null && record.fragment >= e.k) {
    if (record.column != null) roots.push(CID.parse(record.column))
  }
  return roots
}
