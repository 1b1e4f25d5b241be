import fs from 'node:fs/promises'
import path from 'node:path'
import { AbortError } from '@libp2p/interface'
import { exporter } from 'ipfs-unixfs-exporter'
import { carOf, carOfBlocks, carOfDag } from '../content/car.js'
import { fileBlocks, readFileContent } from '../content/file-reader.js'
import { BlockNotFoundError, BlockVerificationError, DiskFullError, InputError, isDiskFull, NotAFileError, ReplicationError } from '../errors.js'
import { anySignal } from '../signals.js'
import { BlockArrivals } from './block-arrivals.js'
import { importCar } from './car-import.js'
import { resolveOutput } from './export-path.js'
import { importPath } from './import-path.js'
import { checkPart, commitOutput, partOf } from './output-commit.js'
import { OutputLayout } from './output-layout.js'
import { OnDemandBlocks, resolvePath } from './paths.js'
import type { ResolvedPath } from './paths.js'
import type { ByteRange } from '../content/file-reader.js'
import type { CarImportResult } from './car-import.js'
import type { GarbageCollector } from './gc.js'
import type { ImportOptions, ImportResult } from './import-path.js'
import type { Pinning } from './pinning.js'
import type { BlockWriter } from '../exchange/block-sink.js'
import type { DownloadPurpose, Exchange } from '../exchange/exchange.js'
import type { FetchProgress, FetchResult } from '../exchange/session-types.js'
import type { TokenBucket } from '../exchange/token-bucket.js'
import type { ReplicaManager } from '../replication/replica-manager.js'
import type { ReplicaStatus } from '../replication/status-view.js'
import type { Announcer } from '../routing/announcer.js'
import type { BlockStore } from '../store/block-store.js'
import type { PinStore } from '../store/pin-store.js'
import type { RefStore } from '../store/ref-store.js'
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

export interface GetResult extends FetchResult {
  size: number
  type: 'file' | 'directory'
  output: string
  pinned: boolean
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

export interface AddOptions extends ImportOptions {
  pin?: boolean
  /** Keep this many copies in the swarm (K); 1 keeps only this peer's. */
  replicas?: number
  /** Copies above this are trimmed (default: replicas). */
  replicasMax?: number
}

export interface TransfersComponents {
  blocks: BlockStore
  pins: PinStore
  refs: RefStore
  exchange: Exchange
  announcer: Announcer
  gc: GarbageCollector
  pinning: Pinning
  replicas: ReplicaManager
  /** Paces replica downloads (repairs share it). */
  repairBucket: TokenBucket
  /** The repo's directory, named when its disk is full. */
  repoRoot: string
  /** Where replica downloads keep their data (a pack per root). */
  packs: string
}

export interface TransfersInit {
  chunkSize: number
  /** Copies an add keeps when it does not say (K). */
  replicas: number
  /** Says why `add --replicas` cannot replicate (undefined: this peer is in a group). */
  notInGroup?: string
}

async function toBytes (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const first = await chunks[Symbol.asyncIterator]().next()
  if (first.done === true) throw new BlockNotFoundError('the block store gave an empty block')
  return first.value
}

/**
 * Content in and out of this peer: `add` (import, pin, announce, place
 * copies), `get` (fetch from the swarm, then write the output), `cat`
 * (stream while fetching) and replica downloads. Each marks its root in use
 * for gc while it runs, and announces a root as soon as some of it is here.
 */
export class Transfers {
  private readonly c: TransfersComponents
  private readonly init: TransfersInit

  constructor (components: TransfersComponents, init: TransfersInit) {
    this.c = components
    this.init = init
  }

  /**
   * Import a file or directory, pin it and announce it; with `replicas` > 1,
   * also place that many copies on the peers closest to the root.
   */
  async add (input: string, options: AddOptions = {}): Promise<ImportResult & { pinned: boolean, replication?: ReplicaStatus }> {
    const replicas = options.replicas ?? this.init.replicas
    const replicasMax = options.replicasMax ?? replicas
    if (replicas > 1 && this.init.notInGroup != null) throw new ReplicationError(this.init.notInGroup)
    if (replicasMax < replicas) {
      throw new ReplicationError(`--replicas-max (${replicasMax}) must be at least --replicas (${replicas})`)
    }
    const pinned = options.pin !== false
    // a gc must not run between storing the blocks and pinning them
    const result = await this.c.gc.writing(async () => {
      const imported = await importPath(this.c.blocks, input, { chunkSize: this.init.chunkSize, ...options })
      const info = { cid: imported.cid, name: imported.name, size: imported.size, type: imported.type, created: Date.now() }
      if (pinned) await this.c.pins.pin(info, 'user')
      // with --no-pin a replicated root is kept only as a replica: trimmed like any other copy
      if (replicas > 1) await this.c.pins.pin(info, 'replica')
      return imported
    }).catch(err => { throw this.repoFull(err, 'nothing was added; the blocks stored so far go at the next gc') })
    this.c.announcer.announce(result.cid)
    if (replicas > 1) {
      const replication = await this.c.replicas.replicate(result.cid, { min: replicas, max: replicasMax, size: result.size }, options)
      return { ...result, pinned, replication }
    }
    return { ...result, pinned }
  }

  /**
   * Fetch the DAG under `cid` from the swarm and write it to `output` (into
   * it, as `output/CID`, when it is a directory). Every verified leaf goes
   * straight to its place in `OUTPUT.part`, renamed to `OUTPUT` once the
   * whole DAG is verified; the repo refers to the output for its leaves
   * rather than keeping a copy. An interrupted get resumes from the `.part`.
   * Pins the root unless `pin` is false and announces it, so this peer
   * serves it too (from the output, during the download and after).
   */
  async get (root: CID, output: string, options: GetOptions = {}): Promise<GetResult> {
    const { cid, holdersOf } = await this.target(root, options)
    options = { ...options, holdersOf }
    // a path's target is named after it in a folder (`shoal get CID/dir/a.txt` writes ./a.txt)
    const target = await resolveOutput(output, cid, { ...options, name: options.path?.at(-1) })
    const part = partOf(target)
    await checkPart(part, cid, this.c.refs, options)
    const done = await this.c.gc.use(cid)
    try {
      const { fetched, exported } = await this.fetchInto(cid, part, { owned: false }, { ...options, purpose: 'get', name: path.basename(target) }, target)
      await commitOutput(this.c.refs, part, target, exported.type, options)
      const name = options.path?.at(-1) ?? target.split('/').pop() ?? cid.toString()
      const pinned = await this.c.pinning.keepFetched(cid, name, exported, options.pin !== false)
      return { ...fetched, ...exported, output: target, pinned }
    } finally {
      done()
    }
  }

  /**
   * Stream a file's bytes while it downloads: the session fetches in file
   * order and the exporter reads each block as soon as it is verified and
   * stored. Nothing is pinned.
   */
  async * cat (root: CID, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const { cid, holdersOf } = await this.target(root, options)
    if (options.range != null || options.fetch === false) {
      // a part of the file: only the blocks that hold it, each fetched as it is needed
      const done = await this.c.gc.use(cid)
      try {
        const blocks = this.onDemand(holdersOf ?? cid, options)
        await checkFile(cid, blocks, options.signal)
        yield * readFileContent(cid, async c => await blocks.bytes(c, options), { signal: options.signal, range: options.range })
      } finally {
        done()
      }
      return
    }
    yield * this.whileFetching(cid, { ...options, holdersOf }, async function * (blocks, signal) {
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
      yield * this.whileFetching(cid, { ...options, holdersOf: root }, (arrivals, signal) =>
        carOfDag([root], lead, [cid], async c => await toBytes(arrivals.get(c, { signal })), { signal }))
      return
    }
    const blocks = this.onDemand(root, options)
    const get = async (c: CID): Promise<Uint8Array> => await blocks.bytes(c, options)
    const done = await this.c.gc.use(cid)
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
      done()
    }
  }

  /** The CID a path names, and the root to find its holders by (when it is not the root itself). */
  private async target (root: CID, options: GetOptions): Promise<{ cid: CID, holdersOf?: CID }> {
    if (options.path == null || options.path.length === 0) return { cid: root, holdersOf: options.holdersOf }
    const resolved = await this.resolve(root, options)
    return { cid: resolved.cid, holdersOf: options.holdersOf ?? root }
  }

  /** Blocks from here, or fetched one at a time from the holders of `holdersOf`. */
  private onDemand (holdersOf: CID, options: ReadOptions): OnDemandBlocks {
    if (options.fetch === false) return new OnDemandBlocks(this.c.blocks, undefined)
    return new OnDemandBlocks(this.c.blocks, async (cid, opts) => {
      await this.c.exchange.fetch(cid, { signal: opts.signal ?? options.signal, providerTimeout: options.providerTimeout, holdersOf, scope: 'block' })
    })
  }

  /**
   * Stream the DAG under `cid` as a CAR (every block once, depth first)
   * while it downloads, like `cat`. Nothing is pinned.
   */
  exportCar (cid: CID, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    if (options.path != null && options.path.length > 0) return this.exportScoped(cid, 'all', options)
    return this.whileFetching(cid, options, (blocks, signal) => carOf([cid], async c => await toBytes(blocks.get(c, { signal })), { signal }))
  }

  /**
   * Store every block of a CAR file (each verified against its CID), then pin
   * and announce its roots. A root whose DAG the CAR does not hold whole is
   * refused and nothing is pinned; its blocks go at the next gc.
   */
  async importCar (file: string, options: { pin?: boolean, signal?: AbortSignal } = {}): Promise<CarImportResult> {
    const result = await this.c.gc.writing(async () => await importCar(this.c.blocks, file, options))
      .catch(err => { throw this.repoFull(err, 'nothing was imported; the blocks stored so far go at the next gc') })
    const pin = options.pin !== false
    for (const root of result.roots) {
      if (pin) await this.c.pins.pin({ cid: root.cid, name: root.name, size: root.size, type: root.type, created: Date.now() }, 'user')
      this.c.announcer.announce(root.cid)
    }
    return { ...result, pinned: pin }
  }

  /**
   * Run `read` over the blocks of `cid` while they download (in DAG order):
   * `read` gets a store whose `get` waits for a block not here yet. The root
   * is kept from gc until the read ends; nothing is pinned.
   */
  private async * whileFetching<T> (cid: CID, options: GetOptions, read: (blocks: BlockArrivals, signal: AbortSignal) => AsyncGenerator<T>): AsyncGenerator<T> {
    const controller = new AbortController()
    const signal = anySignal(controller.signal, options.signal)
    const done = await this.c.gc.use(cid)
    const arrivals = new BlockArrivals(this.c.blocks, signal)
    const fetching = this.fetch(cid, { ...options, signal, sequential: true, onStored: c => { arrivals.stored(c) } })
    fetching.then(() => { arrivals.complete() }, err => { arrivals.fail(err) })
    try {
      yield * read(arrivals, signal)
      await fetching
    } finally {
      controller.abort(new AbortError('read finished'))
      await fetching.catch(() => {})
      await this.c.pins.clearDownloading(cid)
      done()
    }
  }

  /**
   * Download a replica we accepted (at the repair rate) into a pack of the
   * repo's own (`packs/CID`: the file, or the directory tree), pin it and
   * announce it.
   */
  async fetchReplica (root: CID, options: AbortOptions & { onProgress?(bytes: number): void }): Promise<void> {
    const done = await this.c.gc.use(root)
    try {
      const pack = path.join(this.c.packs, root.toString())
      if (this.c.refs.filesOf(root).some(f => f.owned && f.complete && f.state === 'ok')) {
        // a pack kept from an earlier copy of this root: only what is missing is fetched
        await this.fetch(root, { signal: options.signal, rateLimit: this.c.repairBucket, purpose: 'replica' })
      } else {
        await fs.mkdir(this.c.packs, { recursive: true })
        const part = partOf(pack)
        await checkPart(part, root, this.c.refs, { force: true, owned: true })
        const { exported } = await this.fetchInto(root, part, { owned: true }, {
          signal: options.signal,
          rateLimit: this.c.repairBucket,
          purpose: 'replica',
          onProgress: p => { options.onProgress?.(p.bytesDone) }
        })
        await commitOutput(this.c.refs, part, pack, exported.type, { force: true })
      }
      await this.c.pinning.keepReplica(root, options)
      await this.c.pins.clearDownloading(root)
      this.c.announcer.announce(root)
    } finally {
      done()
    }
  }

  /**
   * Fetch `cid` with its leaves written in place under `part`, then complete
   * and sync the output. A block that rotted in the store meanwhile is
   * fetched again. `target` names the output in errors.
   */
  private async fetchInto (cid: CID, part: string, init: { owned: boolean }, options: GetOptions & { rateLimit?: TokenBucket, purpose: DownloadPurpose, name?: string }, target = part): Promise<{ fetched: FetchResult, exported: { type: 'file' | 'directory', size: number } }> {
    const layout = new OutputLayout(this.c.blocks, this.c.refs, cid, part, init)
    try {
      await layout.open(options)
      let fetched = await this.fetch(cid, { ...options, writer: layout })
      options.onWriting?.(target)
      let exported
      try {
        exported = await layout.finish(options)
      } catch (err) {
        if (!(err instanceof BlockVerificationError) && !(err instanceof BlockNotFoundError)) throw err
        // a block rotted, or a referenced file changed, since it was stored: fetch it again
        const again = await this.fetch(cid, { ...options, writer: layout })
        fetched = { ...again, seconds: fetched.seconds + again.seconds }
        exported = await layout.finish(options)
      }
      return { fetched, exported }
    } catch (err) {
      await layout.close()
      if (err instanceof InputError || err instanceof NotAFileError || layout.empty) {
        // refused content, or nothing fetched: no .part is left to resume from
        await this.c.refs.forget(layout.records())
        await fs.rm(part, { recursive: true, force: true })
      }
      throw this.outputFull(err, part, target)
    }
  }

  private async fetch (cid: CID, options: GetOptions & { sequential?: boolean, onStored?(cid: CID): void, rateLimit?: TokenBucket, writer?: BlockWriter, purpose?: DownloadPurpose, name?: string }): Promise<FetchResult> {
    await this.c.pins.markDownloading(cid)
    return await this.c.exchange.fetch(cid, {
      ...options,
      // serve what we have as soon as we have some of it
      onServable: () => { this.c.announcer.announce(cid) }
    })
  }

  /** A download that failed for lack of space, in its output or in the repo, as a DiskFullError saying what became of it. */
  private outputFull (err: unknown, part: string, target: string): unknown {
    if (!isDiskFull(err)) return err
    const where = (err as { path?: unknown }).path
    if (typeof where === 'string' && where.startsWith(part)) {
      return new DiskFullError(`no space left to write ${target}: what was fetched so far is kept in ${part}; free space and run the get again to resume`)
    }
    return this.repoFull(err, 'the blocks fetched so far are kept: run the get again to resume')
  }

  /** A write to the repo that failed for lack of space, as a DiskFullError saying what became of it. */
  private repoFull (err: unknown, outcome: string): unknown {
    if (!isDiskFull(err)) return err
    return new DiskFullError(`the repo's disk is full (${this.c.repoRoot}): ${outcome}; free space or run \`shoal gc\``)
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
