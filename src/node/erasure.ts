import { importer } from 'ipfs-unixfs-importer'
import { isInterior, parseCID } from '../content/dag.js'
import { decodeStripe, encodeStripe, stripeCount } from '../content/erasure.js'
import { decodeLayout, encodeLayout, encodeParity, leavesOf } from '../content/erasure-layout.js'
import { importerOptions } from '../content/profile.js'
import { verifyBlock } from '../content/verify.js'
import { DagLimitError, ErasureError } from '../errors.js'
import { ERASURE_ASSIST_AFTER, ERASURE_ASSIST_MAX, ERASURE_FETCH_WAIT, ERASURE_SOURCE_POLL, ERASURE_SOURCE_TTL, ERASURE_STRIPES_AT_ONCE } from './constants.js'
import { anySignal, sleep } from '../signals.js'
import type { ErasureScheme } from '../content/erasure.js'
import type { ErasureLayout, LeafRef } from '../content/erasure-layout.js'
import { Bitfield } from '../exchange/bitfield.js'
import type { Exchange, DownloadPurpose, FetchOptions } from '../exchange/exchange.js'
import type { TokenBucket } from '../exchange/token-bucket.js'
import type { WantSubscriber } from '../exchange/want-manager.js'
import type { ReplicaStatus } from '../replication/status-view.js'
import type { Announcer } from '../routing/announcer.js'
import type { BlockStore } from '../store/block-store.js'
import type { ReplicaRecord } from '../store/replica-store.js'
import type { GcLock } from './gc-lock.js'
import type { Lease, Leases } from './leases.js'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** What a read's `assist` did so far. */
export interface AssistState {
  /** Some leaves were rebuilt from parity. */
  rebuilt: boolean
  /** Data fragments whose leaves were rebuilt. */
  done: Set<number>
  /** The rebuild under way, if any. */
  rebuilding?: Promise<void>
}

export interface ErasureComponents {
  blocks: BlockStore
  exchange: Exchange
  leases: Leases
  lock: GcLock
  announcer: Announcer
  /** A root's replication status: our own view, or what its holders say (undefined: nobody answered). */
  status(root: CID, options: AbortOptions): Promise<ReplicaStatus | undefined>
  /** A peer banned here (for a bad block): its fragments do not count. */
  isBanned(peer: string): boolean
  /** Our replica record of a root, if we keep one. */
  replicaRecord(root: CID): Promise<ReplicaRecord | undefined>
  /** Connect to a peer (a holder of a root's fragments). */
  dial(peer: string, options: AbortOptions): Promise<void>
  log: Logger
}

/** What one operation on a coded root knows: its layout, its leaves, and which fragments are out of reach. */
interface Coded {
  root: CID
  layout: ErasureLayout
  leaves: LeafRef[]
  /** Fragments no live holder keeps, or whose fetch failed once: not asked for again. */
  dead: Set<number>
  /** The leaves of each parity column, fetched once when first needed. */
  parity: Map<number, Promise<LeafRef[]>>
  purpose: DownloadPurpose
  rateLimit?: TokenBucket
  signal?: AbortSignal
}

/** Told of nothing: the rebuilder stores leaves other downloads may be waiting for. */
const REBUILDER: WantSubscriber = { claimedElsewhere () {}, releasedElsewhere () {}, storedElsewhere () {} }

/**
 * Erasure coding on this node: an adder codes a root it holds whole
 * (`encode`); a holder fetches its fragment, or rebuilds it from any K
 * fragments of each stripe when nobody has it (`fetchFragment`: a first
 * placement and a repair alike); a reader whose data fragments are partly
 * gone rebuilds the missing leaves from parity while its download runs
 * (`assist`). Every fragment fetched is a block checked against its CID on
 * arrival (a peer that sends a bad one is banned, as for any block), and
 * every leaf rebuilt is checked against the root's DAG before it is stored.
 */
export class Erasure {
  private readonly c: ErasureComponents
  private readonly controller = new AbortController()

  constructor (components: ErasureComponents) {
    this.c = components
  }

  /**
   * Code a root held here whole: its parity columns and layout stored, and
   * kept for `ERASURE_SOURCE_TTL` so the holders placed now can fetch them.
   */
  async encode (root: CID, scheme: ErasureScheme, options: AbortOptions = {}): Promise<{ layout: ErasureLayout, cid: CID }> {
    return await this.c.lock.writing(async () => {
      const store = this.c.blocks.importerStore()
      const layout = await encodeParity(root, scheme, { get: async cid => (await this.c.blocks.get(cid, options)).bytes, put: store.put }, options)
      const block = await encodeLayout(layout)
      await this.c.blocks.put(verifyBlock(block.cid, block.bytes), options)
      // taken before the lock is let go: no gc between storing and keeping
      const leases = [block.cid, ...layout.parity].map(cid => this.c.leases.takeWriting(cid, 'erasure'))
      void this.keepUntilPlaced(root, scheme, leases)
      this.c.log('coded %s as %d+%d: layout %s, %d leaves, parity %s', root, scheme.k, scheme.m, block.cid, layout.leaves, layout.parity.join(' '))
      return { layout, cid: block.cid }
    })
  }

  /** Ends the waits of `encode` (the daemon is stopping: leases go with it). */
  stop (): void {
    this.controller.abort()
  }

  /**
   * What `encode` stored is kept until every parity fragment has a complete
   * holder (they fetched it from here), or `ERASURE_SOURCE_TTL` passed (a
   * parity holder placed later computes its fragment from the data).
   */
  private async keepUntilPlaced (root: CID, scheme: ErasureScheme, leases: Lease[]): Promise<void> {
    const deadline = Date.now() + ERASURE_SOURCE_TTL
    try {
      while (Date.now() < deadline) {
        await sleep(ERASURE_SOURCE_POLL, this.controller.signal)
        const status = await this.c.status(root, { signal: this.controller.signal }).catch(() => undefined)
        const placed = new Set(status?.holders.filter(h => h.state === 'complete').map(h => h.fragment))
        if (Array.from({ length: scheme.m }, (_, j) => scheme.k + j).every(f => placed.has(f))) break
      }
    } catch {
      // stopping
    } finally {
      for (const lease of leases) lease.release()
    }
  }

  /**
   * The leaves we keep of a root of which we hold a complete fragment: for
   * a data fragment i, every leaf of index i mod K; for a parity fragment,
   * none (we serve its interior nodes only). Undefined for any other root.
   */
  async partOf (root: CID): Promise<Bitfield | undefined> {
    const record = await this.c.replicaRecord(root)
    if (record?.erasure == null || record.fragment == null || record.state !== 'complete') return undefined
    const layout = decodeLayout((await this.c.blocks.get(parseCID(record.erasure.layout))).bytes)
    const bitfield = new Bitfield(layout.leaves)
    if (record.fragment < layout.k) for (let i = record.fragment; i < layout.leaves; i += layout.k) bitfield.set(i)
    return bitfield
  }

  /**
   * Fetch fragment `fragment` of a coded root, with the root's interior
   * nodes and its layout: from a peer that has it (the adder, just after
   * coding), else rebuilt from any K fragments of each stripe.
   */
  async fetchFragment (root: CID, erasure: { k: number, m: number, layout: CID, size?: number }, fragment: number, options: AbortOptions & { rateLimit?: TokenBucket, onProgress?(bytes: number): void, onColumn?(column: CID): Promise<void> } = {}): Promise<void> {
    const leases = [await this.c.leases.take(root, 'replica'), await this.c.leases.take(erasure.layout, 'replica')]
    try {
      const coded = await this.open(root, erasure.layout, { ...options, purpose: 'replica' })
      if (coded.layout.k !== erasure.k || coded.layout.m !== erasure.m) throw new ErasureError(`the layout of ${root.toString()} says ${coded.layout.k}+${coded.layout.m}, not ${erasure.k}+${erasure.m}`)
      const { k } = coded.layout
      // a root larger than the fragment was admitted for is refused, as a replica's is
      const bytes = coded.leaves.reduce((n, l) => n + l.length, 0)
      if (erasure.size != null && erasure.size > 0 && bytes > erasure.size * 1.01 + 1024 * 1024) {
        throw new DagLimitError(`${root.toString()} has ${bytes} bytes of leaves, more than the ${erasure.size} its fragment was admitted for: refused`)
      }
      const column = fragment < k ? undefined : coded.layout.parity[fragment - k]
      if (column != null) leases.push(await this.c.leases.take(column, 'replica'))
      // a rebuild asks only for fragments a live holder keeps (ours aside: a peer with the whole root, the adder, may send it)
      await this.markDead(coded, fragment, options)
      let done = 0
      if (fragment < k) {
        const mine = coded.leaves.filter((_, i) => i % k === fragment)
        await inTurn(mine.map((leaf, n) => ({ leaf, stripe: Math.floor((n * k + fragment) / k) })), ERASURE_STRIPES_AT_ONCE, async ({ leaf, stripe }) => {
          if (!(await this.c.blocks.has(leaf.cid)) && !(await this.fetchBlock(coded, leaf.cid, coded.dead.has(fragment) ? undefined : fragment))) await this.rebuild(coded, stripe, [fragment])
          done += leaf.length
          options.onProgress?.(done)
        })
      } else {
        await this.fetchParityColumn(coded, fragment - k, bytes => { done += bytes; options.onProgress?.(done) })
      }
      options.signal?.throwIfAborted()
      if (column != null) await options.onColumn?.(column)
      this.c.announcer.announce(root)
      this.c.log('holding fragment %d of %s', fragment, root)
    } finally {
      for (const lease of leases) lease.release()
    }
  }

  /**
   * While a read of `root` runs (until `signal`): now and then (after
   * `ERASURE_ASSIST_AFTER`, then twice as long each time, at most
   * `ERASURE_ASSIST_MAX`) ask whether it is erasure-coded with data fragments
   * that no live holder keeps (gone, or banned here for a bad fragment); if
   * so, rebuild their leaves from parity into the store, where the read
   * takes them. `state` says whether anything was rebuilt, and the rebuild
   * under way. Ends at once for a root that is not erasure-coded.
   */
  async assist (root: CID, state: AssistState, options: AbortOptions & { purpose?: DownloadPurpose } = {}): Promise<void> {
    const signal = options.signal
    let wait = ERASURE_ASSIST_AFTER
    while (signal?.aborted !== true) {
      await sleep(wait, signal)
      wait = Math.min(wait * 2, ERASURE_ASSIST_MAX)
      if (await this.rebuildOnce(root, state, options) === 'not-coded') return
    }
  }

  /**
   * One look at the root's status, and a rebuild of the leaves of data
   * fragments no live holder keeps (that this read has not rebuilt yet).
   * `not-coded` for a root that is not erasure-coded.
   */
  async rebuildOnce (root: CID, state: AssistState, options: AbortOptions & { purpose?: DownloadPurpose } = {}): Promise<'not-coded' | 'rebuilt' | 'nothing'> {
    const status = await this.c.status(root, options).catch(() => undefined)
    const e = status?.erasure
    if (status == null || e == null) return 'not-coded'
    const live = new Set(status.holders.filter(h => h.state === 'complete' && h.fragment != null && !this.c.isBanned(h.peer)).map(h => h.fragment!))
    const lost = Array.from({ length: e.k }, (_, i) => i).filter(i => !live.has(i) && !state.done.has(i))
    if (lost.length === 0) return 'nothing'
    if (live.size < e.k) throw new ErasureError(`${root.toString()}: ${live.size} of its ${e.k + e.m} fragments have a live holder, fewer than the ${e.k} it needs`)
    state.rebuilding = this.rebuildLost(root, parseCID(e.layout), live, lost, { ...options, purpose: options.purpose ?? 'read' })
    await state.rebuilding
    state.rebuilt = true
    for (const i of lost) state.done.add(i)
    return 'rebuilt'
  }

  /** The leaves of data fragments `lost` of every stripe, rebuilt from the fragments in `live`. */
  private async rebuildLost (root: CID, layoutCid: CID, live: Set<number>, lost: number[], options: AbortOptions & { purpose: DownloadPurpose }): Promise<void> {
    const coded = await this.open(root, layoutCid, options)
    const { k, m } = coded.layout
    for (let i = 0; i < k + m; i++) if (!live.has(i)) coded.dead.add(i)
    this.c.log('%s: data fragments %s have no live holder: rebuilding their leaves from parity', root, lost.join(', '))
    const stripes = Array.from({ length: stripeCount(coded.leaves.length, coded.layout) }, (_, s) => s)
    await inTurn(stripes, ERASURE_STRIPES_AT_ONCE, async s => {
      const missing = []
      for (const i of lost) {
        const leaf = coded.leaves[s * k + i]
        if (leaf != null && !(await this.c.blocks.has(leaf.cid))) missing.push(i)
      }
      if (missing.length > 0) await this.rebuild(coded, s, missing)
    })
  }

  /**
   * Fragments whose holders are all gone, absent or banned, `own` aside: not
   * asked for by a rebuild. A holder we only heard of (a new holder's view
   * shows the others as fetching until they sync) may have its fragment.
   */
  private async markDead (coded: Coded, own: number, options: AbortOptions): Promise<void> {
    const status = await this.c.status(coded.root, options).catch(() => undefined)
    if (status?.erasure == null) return
    const holders = status.holders.filter(h => (h.state === 'complete' || h.state === 'fetching') && h.fragment != null && !this.c.isBanned(h.peer))
    const live = new Set(holders.map(h => h.fragment!))
    const { k, m } = coded.layout
    for (let i = 0; i < k + m; i++) if (i !== own && !live.has(i)) coded.dead.add(i)
    // connected, a download asks them at once rather than after a look-up of the root's providers
    await Promise.all(holders.map(async h => { await this.c.dial(h.peer, { signal: anySignal(AbortSignal.timeout(ERASURE_FETCH_WAIT), options.signal) }).catch(() => {}) }))
  }

  /** The layout (fetched if need be, checked against the root) and the root's interior nodes and leaves. */
  private async open (root: CID, layoutCid: CID, options: AbortOptions & { purpose: DownloadPurpose, rateLimit?: TokenBucket }): Promise<Coded> {
    const base = { root, dead: new Set<number>(), parity: new Map(), purpose: options.purpose, rateLimit: options.rateLimit, signal: options.signal }
    const load = async (cid: CID): Promise<Uint8Array> => {
      if (!(await this.c.blocks.has(cid)) && !(await this.fetchBlock(base as Coded, cid))) throw new ErasureError(`no holder of ${root.toString()} sent ${cid.toString()}`)
      return (await this.c.blocks.get(cid)).bytes
    }
    const layout = decodeLayout(await load(layoutCid))
    if (!layout.root.equals(root)) throw new ErasureError(`layout ${layoutCid.toString()} is of ${layout.root.toString()}, not ${String(root)}`)
    // interior nodes only: leaves are what the fragments are
    const leaves = await leavesOf(root, async cid => isInterior(cid) ? await load(cid) : (await this.c.blocks.get(cid).catch(() => undefined))?.bytes ?? await load(cid), options)
    if (leaves.length !== layout.leaves) throw new ErasureError(`${root.toString()} has ${leaves.length} leaves; its layout says ${layout.leaves}`)
    return { ...base, layout, leaves }
  }

  /**
   * A download through the exchange that gives up once nothing has arrived
   * for `ERASURE_FETCH_WAIT`: peers that hold part of the root answer, so the
   * exchange alone would wait its whole request timeout for a fragment
   * nobody has.
   */
  private async fetchGuarded (coded: Coded, cid: CID, options: FetchOptions): Promise<void> {
    const stall = new AbortController()
    const stalled = (): void => { stall.abort(new ErasureError(`nothing of ${cid.toString()} arrived for ${ERASURE_FETCH_WAIT / 1000} s`)) }
    let timer = setTimeout(stalled, ERASURE_FETCH_WAIT)
    const moved = (): void => {
      clearTimeout(timer)
      timer = setTimeout(stalled, ERASURE_FETCH_WAIT)
    }
    try {
      await this.c.exchange.fetch(cid, {
        ...options,
        holdersOf: coded.root,
        providerTimeout: ERASURE_FETCH_WAIT,
        purpose: coded.purpose,
        rateLimit: coded.rateLimit,
        signal: anySignal(stall.signal, coded.signal),
        // a block stored is progress; the session's progress reports come whether or not one is
        onStored: moved
      })
    } finally {
      clearTimeout(timer)
    }
  }

  /** One block from whoever holds part of the root; whether it came. A fragment that fails is not asked for again. */
  private async fetchBlock (coded: Coded, cid: CID, fragment?: number): Promise<boolean> {
    if (fragment != null && coded.dead.has(fragment)) return false
    try {
      await this.fetchGuarded(coded, cid, { scope: 'block' })
      return true
    } catch (err: any) {
      coded.signal?.throwIfAborted()
      if (fragment != null) coded.dead.add(fragment)
      this.c.log('%s: %s did not come (%s)', coded.root, cid, err.message)
      return false
    }
  }

  /** The leaves of parity column `j`, its interior nodes fetched once. */
  private async parityLeaves (coded: Coded, j: number): Promise<LeafRef[]> {
    let leaves = coded.parity.get(j)
    if (leaves == null) {
      leaves = leavesOf(coded.layout.parity[j], async cid => {
        if (!(await this.c.blocks.has(cid)) && !(await this.fetchBlock(coded, cid, coded.layout.k + j))) throw new ErasureError(`parity column ${j} of ${coded.root.toString()} is out of reach`)
        return (await this.c.blocks.get(cid)).bytes
      }, { signal: coded.signal })
      coded.parity.set(j, leaves)
    }
    return await leaves
  }

  /**
   * Stripe `s`'s data leaves from any K of its fragments (the ones here
   * first, then data leaves, then parity); the leaves in `store` are checked
   * against the DAG and stored. Returns every data leaf of the stripe.
   */
  private async rebuild (coded: Coded, s: number, store: number[]): Promise<Uint8Array[]> {
    const { k, m } = coded.layout
    const refs = coded.leaves.slice(s * k, s * k + k)
    const fragments: Array<Uint8Array | undefined> = Array.from({ length: k + m }, () => undefined)
    const have = async (i: number, cid: CID): Promise<void> => {
      if (await this.c.blocks.has(cid) || await this.fetchBlock(coded, cid, i)) fragments[i] = (await this.c.blocks.get(cid)).bytes
    }
    await Promise.all(refs.map(async (ref, i) => { if (!store.includes(i)) await have(i, ref.cid) }))
    const present = (): number => fragments.filter(f => f != null).length + (k - refs.length)
    for (let j = 0; j < m && present() < k; j++) {
      if (coded.dead.has(k + j)) continue
      const column = await this.parityLeaves(coded, j).catch(() => { coded.dead.add(k + j); return undefined })
      if (column?.[s] != null) await have(k + j, column[s].cid)
    }
    if (present() < k) throw new ErasureError(`stripe ${s} of ${coded.root.toString()}: ${present()} of its ${k + m} fragments reached, ${k} needed`)
    const data = decodeStripe(fragments, refs.map(r => r.length), coded.layout)
    for (const i of store) {
      if (i >= refs.length || fragments[i] != null) continue
      // fragments are checked as they arrive, so a leaf rebuilt from them is right; checked again all the same
      await this.c.blocks.put(verifyBlock(refs[i].cid, data[i]))
      this.c.exchange.wants.stored(refs[i].cid, REBUILDER)
    }
    return data
  }

  /** Parity column `j` whole: fetched from a peer that has it, else computed stripe by stripe from the data. */
  private async fetchParityColumn (coded: Coded, j: number, onBytes: (n: number) => void): Promise<void> {
    const column = coded.layout.parity[j]
    try {
      // a column is one fragment per stripe, each as long as its stripe's longest leaf: a layout naming a larger DAG is refused
      const expected = stripeSizes(coded).reduce((a, b) => a + b, 0)
      const checkSize = (declared: number): void => {
        if (declared > expected * 1.01 + 64 * 1024) throw new DagLimitError(`parity column ${j} of ${coded.root.toString()} declares ${declared} bytes, not the ${expected} its stripes make: refused`)
      }
      await this.fetchGuarded(coded, column, { checkSize })
      onBytes(Math.ceil(coded.leaves.reduce((n, l) => n + l.length, 0) / coded.layout.k))
      return
    } catch (err: any) {
      coded.signal?.throwIfAborted()
      if (err.name === 'DagLimitError') throw err
      this.c.log('%s: parity column %d is nowhere to fetch (%s): computing it from the data', coded.root, j, err.message)
    }
    coded.dead.add(coded.layout.k + j)
    const self = this
    async function * fragments (): AsyncGenerator<Uint8Array> {
      for (let s = 0; s < stripeCount(coded.leaves.length, coded.layout); s++) {
        const parity = encodeStripe(await self.rebuild(coded, s, []), coded.layout)[j]
        onBytes(parity.byteLength)
        yield parity
      }
    }
    const made = await this.c.lock.writing<CID | undefined>(async () => {
      let cid: CID | undefined
      const opts = { ...importerOptions(), chunker: (source: AsyncIterable<Uint8Array>) => source, signal: coded.signal }
      for await (const entry of importer([{ content: fragments() }], this.c.blocks.importerStore(), opts)) cid = entry.cid
      return cid
    })
    if (made?.equals(column) !== true) throw new ErasureError(`parity column ${j} of ${coded.root.toString()} rebuilt as ${String(made)}, not ${column.toString()}`)
  }
}

/** Run `work` on each item, at most `n` at once, in order; the first failure stops the rest. */
async function inTurn<T> (items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const state = { failed: false }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    try {
      while (next < items.length && !state.failed) await work(items[next++])
    } catch (err) {
      state.failed = true
      throw err
    }
  }))
}

/** The length of each stripe's parity fragments: its longest leaf. */
function stripeSizes (coded: Coded): number[] {
  const { k } = coded.layout
  return Array.from({ length: stripeCount(coded.leaves.length, coded.layout) }, (_, s) => Math.max(...coded.leaves.slice(s * k, s * k + k).map(l => l.length)))
}
