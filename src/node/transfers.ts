import fs from 'node:fs/promises'
import path from 'node:path'
import { AbortError } from '@libp2p/interface'
import { exporter } from 'ipfs-unixfs-exporter'
import { carOf } from '../content/car.js'
import { readFileContent } from '../content/file-reader.js'
import { BlockNotFoundError, BlockVerificationError, DiskFullError, InputError, isDiskFull, NotAFileError, ReplicationError } from '../errors.js'
import { anySignal } from '../signals.js'
import { BlockArrivals } from './block-arrivals.js'
import { importCar } from './car-import.js'
import { resolveOutput } from './export-path.js'
import { importPath } from './import-path.js'
import { checkPart, commitOutput, partOf } from './output-commit.js'
import { OutputLayout } from './output-layout.js'
import type { CarImportResult } from './car-import.js'
import type { GarbageCollector } from './gc.js'
import type { ImportOptions, ImportResult } from './import-path.js'
import type { Pinning } from './pinning.js'
import type { BlockWriter } from '../exchange/block-sink.js'
import type { Exchange } from '../exchange/exchange.js'
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
  pin?: boolean
  force?: boolean
  signal?: AbortSignal
  providerTimeout?: number
  onProgress?(progress: FetchProgress): void
  /** No holder found yet: still searching, for at most `timeout` ms. */
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
  async get (cid: CID, output: string, options: GetOptions = {}): Promise<GetResult> {
    const target = await resolveOutput(output, cid, options)
    const part = partOf(target)
    await checkPart(part, cid, this.c.refs, options)
    const done = await this.c.gc.use(cid)
    try {
      const { fetched, exported } = await this.fetchInto(cid, part, { owned: false }, options, target)
      await commitOutput(this.c.refs, part, target, exported.type, options)
      const pinned = await this.c.pinning.keepFetched(cid, target.split('/').pop() ?? cid.toString(), exported, options.pin !== false)
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
  cat (cid: CID, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    return this.whileFetching(cid, options, async function * (blocks, signal) {
      const entry = await exporter(cid, blocks, { signal })
      if (entry.type !== 'file' && entry.type !== 'raw' && entry.type !== 'identity') {
        throw new NotAFileError(`${cid.toString()} is a ${entry.type}, not a file (use get)`)
      }
      yield * readFileContent(cid, async c => await toBytes(blocks.get(c, { signal })), { signal })
    })
  }

  /**
   * Stream the DAG under `cid` as a CAR (every block once, depth first)
   * while it downloads, like `cat`. Nothing is pinned.
   */
  exportCar (cid: CID, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
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
        await this.fetch(root, { signal: options.signal, rateLimit: this.c.repairBucket })
      } else {
        await fs.mkdir(this.c.packs, { recursive: true })
        const part = partOf(pack)
        await checkPart(part, root, this.c.refs, { force: true, owned: true })
        const { exported } = await this.fetchInto(root, part, { owned: true }, {
          signal: options.signal,
          rateLimit: this.c.repairBucket,
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
  private async fetchInto (cid: CID, part: string, init: { owned: boolean }, options: GetOptions & { rateLimit?: TokenBucket }, target = part): Promise<{ fetched: FetchResult, exported: { type: 'file' | 'directory', size: number } }> {
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

  private async fetch (cid: CID, options: GetOptions & { sequential?: boolean, onStored?(cid: CID): void, rateLimit?: TokenBucket, writer?: BlockWriter }): Promise<FetchResult> {
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
