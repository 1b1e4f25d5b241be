import fs from 'node:fs/promises'
import path from 'node:path'
import { AbortError } from '@libp2p/interface'
import { DagLimitError, DiskFullError, InputError } from '../errors.js'
import { anySignal } from '../signals.js'
import { outputFull } from './disk-full.js'
import { resolveOutput } from './export-path.js'
import { checkPart, commitOutput, partOf, recordsUnder } from './output-commit.js'
import { GET_PROGRESS_SAVE_INTERVAL, REPLICA_SIZE_SLACK } from './constants.js'
import type { Erasure } from './erasure.js'
import type { Fetcher } from './fetcher.js'
import type { Lease, Leases } from './leases.js'
import type { Pinning } from './pinning.js'
import type { GetOptions, Reads } from './reads.js'
import type { FetchProgress, FetchResult } from '../exchange/session-types.js'
import type { TokenBucket } from '../exchange/token-bucket.js'
import type { Announcer } from '../routing/announcer.js'
import type { GetRecord, GetStore } from '../store/get-store.js'
import type { RefStore } from '../store/refs/ref-store.js'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface GetResult extends FetchResult {
  size: number
  type: 'file' | 'directory'
  output: string
  pinned: boolean
}

/** An unfinished get, as `ls` and the web page show it. */
export interface UnfinishedGet {
  id: string
  cid: string
  /** `CID/dir/file` as the user asked for it, when it was a path. */
  path?: string
  target: string
  part: string
  /** `running` now, or `interrupted`: the same get resumes it. */
  state: 'running' | 'interrupted'
  bytesDone: number
  bytesTotal: number
  created: number
}

export interface DownloadsComponents {
  gets: GetStore
  refs: RefStore
  fetcher: Fetcher
  reads: Reads
  leases: Leases
  pinning: Pinning
  announcer: Announcer
  /** Paces replica downloads (repairs share it). */
  repairBucket: TokenBucket
  /** Fetches and rebuilds fragments of erasure-coded roots. */
  erasure: Erasure
  /** The repo's directory, named when its disk is full. */
  repoRoot: string
  /** Where replica downloads keep their data (a pack per root). */
  packs: string
  /** Whether anything keeps a root now (gc's rule). */
  isKept(root: CID): Promise<boolean>
  log: Logger
}

interface Running {
  cid: CID
  holdersOf?: CID
  /** Its record, once claimed. */
  record?: GetRecord
  controller: AbortController
  ended: Promise<void>
  progress?: FetchProgress
  /** A save of its progress under way (waited for before the get ends: a give-up deletes after). */
  saving?: Promise<void>
  /** Given up (`rm`): it saves nothing more and commits nothing. */
  givenUp?: boolean
}

/**
 * Content fetched to be kept: `get` (into the user's output) and replica
 * downloads (into a pack of the repo's own). Every verified leaf goes
 * straight to its place in `OUTPUT.part`, renamed once the whole DAG is
 * verified. An unfinished get has a record of its own (`GetStore`): it is
 * listed, kept from gc, resumed by the same get from its `.part` whatever
 * ran meanwhile, and given up only by the user (`rm`). A get that failed
 * having written nothing leaves nothing.
 */
export class Downloads {
  private readonly c: DownloadsComponents
  private readonly running = new Map<string, Running>()

  constructor (components: DownloadsComponents) {
    this.c = components
  }

  /**
   * Fetch the DAG under `root` (or the path under it) and write it to
   * `output` (into it, as `output/CID`, when it is a directory). Pins the
   * root unless `pin` is false and announces it, so this peer serves it
   * from the output while it downloads, and after it (with `pin` false,
   * until the next gc).
   */
  async get (root: CID, output: string, options: GetOptions = {}): Promise<GetResult> {
    const { cid, holdersOf } = await this.c.reads.target(root, options)
    // a path's target is named after it in a folder (`shoal get CID/dir/a.txt` writes ./a.txt)
    const target = await resolveOutput(output, cid, { ...options, name: options.path?.at(-1) })
    const part = partOf(target)
    // registered before anything is awaited: a second get of the same output, or a give-up, sees it
    if (this.running.has(part)) throw new InputError(`${target} is being fetched by another get already`)
    const controller = new AbortController()
    const signal = anySignal(controller.signal, options.signal)
    const ended = Promise.withResolvers<void>()
    const running: Running = { cid, holdersOf, controller, ended: ended.promise }
    this.running.set(part, running)
    let lease: Lease | undefined
    let discarded = false
    let saved = Date.now()
    try {
      const record = running.record = await this.claim(cid, holdersOf, target, part, options)
      const room = await roomFor(part, this.c.refs)
      lease = await this.c.leases.take(cid, 'get')
      signal.throwIfAborted()
      const { fetched, exported } = await this.c.fetcher.into(cid, part, { owned: false }, {
        ...options,
        holdersOf,
        signal,
        purpose: 'get',
        name: path.basename(target),
        checkSize: bytes => {
          record.bytesTotal = bytes
          if (bytes > room) throw new DiskFullError(`${target} needs ${bytes} bytes and its disk has room for ${room}: nothing more is fetched (free space and run the get again)`)
        },
        onProgress: p => {
          running.progress = p
          options.onProgress?.(p)
          if (Date.now() - saved >= GET_PROGRESS_SAVE_INTERVAL && running.saving == null && running.givenUp !== true) {
            saved = Date.now()
            running.saving = this.save(running).catch(() => {}).finally(() => { running.saving = undefined })
          }
        },
        onWriting: () => { options.onWriting?.(target) },
        onDiscarded: async () => {
          discarded = true
          await this.c.gets.delete(record.id)
        }
      })
      // given up meanwhile (`rm`): nothing is committed
      signal.throwIfAborted()
      await commitOutput(this.c.refs, part, target, exported.type, options)
      const name = options.path?.at(-1) ?? path.basename(target)
      const pinned = await this.c.pinning.keepFetched(cid, name, exported, record.pin)
      await running.saving
      await this.c.gets.delete(record.id)
      return { ...fetched, ...exported, output: target, pinned }
    } catch (err) {
      await running.saving
      if (!discarded && running.givenUp !== true && running.record != null) await this.save(running).catch(() => {})
      throw outputFull(err, part, target, this.c.repoRoot)
    } finally {
      await running.saving
      lease?.release()
      this.running.delete(part)
      // it announced what it had as it came: once nothing is left of it and nothing keeps the root, withdrawn
      if ((discarded || running.givenUp === true) && !(await this.c.isKept(cid).catch(() => true))) this.c.announcer.withdraw(cid)
      ended.resolve()
    }
  }

  /** Unfinished gets, running or interrupted, oldest first. */
  async list (options: AbortOptions = {}): Promise<UnfinishedGet[]> {
    const out: UnfinishedGet[] = []
    for await (const record of this.c.gets.all(options)) {
      const running = this.running.get(record.part)
      out.push({
        id: record.id,
        cid: (record.holdersOf ?? record.cid).toString(),
        path: record.path == null || record.path.length === 0 ? undefined : [record.holdersOf?.toString() ?? record.cid.toString(), ...record.path].join('/'),
        target: record.target,
        part: record.part,
        state: running != null ? 'running' : 'interrupted',
        bytesDone: running?.progress?.bytesDone ?? record.bytesDone,
        bytesTotal: running?.progress?.bytesTotal ?? record.bytesTotal,
        created: record.created
      })
    }
    return out.sort((a, b) => a.created - b.created)
  }

  /**
   * Give up every unfinished get of `cid` (of the root, or of a path under
   * it): a running one is stopped first, then its `.part` and its record go.
   * A pin of the root is left alone. Returns how many were given up.
   */
  async giveUp (cid: CID): Promise<number> {
    // running ones first, claimed or still claiming: stopped, and they save nothing more
    const stopping: Array<Promise<void>> = []
    for (const running of this.running.values()) {
      if (!running.cid.equals(cid) && running.holdersOf?.equals(cid) !== true) continue
      running.givenUp = true
      running.controller.abort(new AbortError(`the get of ${cid.toString()} was given up`))
      stopping.push(running.ended)
    }
    await Promise.all(stopping)
    const records = await this.c.gets.of(cid)
    for (const record of records) {
      // the output first: on a full disk, deleting it is what makes room to record the rest
      await fs.rm(record.part, { recursive: true, force: true })
      await this.c.refs.forget(recordsUnder(this.c.refs, record.part))
      await this.c.gets.delete(record.id)
      this.c.log('gave up the get of %s into %s (its .part is deleted)', cid, record.target)
    }
    if (records.length > 0 && !(await this.c.isKept(cid))) this.c.announcer.withdraw(cid)
    return records.length
  }

  /**
   * Download a replica we accepted (at the repair rate) into a pack of the
   * repo's own (`packs/CID`: the file, or the directory tree), pin it and
   * announce it. `size`: what it was admitted for; a DAG declaring more is
   * refused.
   */
  /** Our fragment of an erasure-coded root, fetched or rebuilt at the repair rate. */
  async fetchFragment (root: CID, erasure: { k: number, m: number, layout: CID, size: number }, fragment: number, options: AbortOptions & { onProgress?(bytes: number): void, onColumn?(column: CID): Promise<void> }): Promise<void> {
    return await this.c.erasure.fetchFragment(root, erasure, fragment, { ...options, rateLimit: this.c.repairBucket })
  }

  async fetchReplica (root: CID, options: AbortOptions & { size?: number, onProgress?(bytes: number): void }): Promise<void> {
    const lease = await this.c.leases.take(root, 'replica')
    try {
      const checkSize = (bytes: number): void => {
        if (options.size != null && options.size > 0 && bytes > options.size * (1 + REPLICA_SIZE_SLACK) + 1024 * 1024) {
          throw new DagLimitError(`${root.toString()} declares ${bytes} bytes, more than the ${options.size} its replica was admitted for: refused`)
        }
      }
      const fetchOptions = { signal: options.signal, rateLimit: this.c.repairBucket, purpose: 'replica' as const, checkSize }
      const pack = path.join(this.c.packs, root.toString())
      if (this.c.refs.filesOf(root).some(f => f.owned && f.complete && f.state === 'ok')) {
        // a pack kept from an earlier copy of this root: only what is missing is fetched
        await this.c.fetcher.fetch(root, fetchOptions)
      } else {
        await fs.mkdir(this.c.packs, { recursive: true })
        const part = partOf(pack)
        await checkPart(part, root, this.c.refs, { force: true, owned: true })
        const { exported } = await this.c.fetcher.into(root, part, { owned: true }, { ...fetchOptions, onProgress: p => { options.onProgress?.(p.bytesDone) } })
        await commitOutput(this.c.refs, part, pack, exported.type, { force: true })
      }
      // released meanwhile: not pinned, not announced
      options.signal?.throwIfAborted()
      await this.c.pinning.keepReplica(root, options)
      this.c.announcer.announce(root)
    } finally {
      lease.release()
    }
  }

  /**
   * The record of a get into `part`: the earlier one of the same content
   * (it resumes), or a new one. What is at `part` must be that earlier
   * get's output, or be replaceable (`checkPart`).
   */
  private async claim (cid: CID, holdersOf: CID | undefined, target: string, part: string, options: GetOptions): Promise<GetRecord> {
    await checkPart(part, cid, this.c.refs, options)
    const earlier = await this.c.gets.at(part)
    const pin = options.pin !== false
    if (earlier != null && earlier.cid.equals(cid)) {
      const record = { ...earlier, pin }
      await this.c.gets.put(record)
      return record
    }
    // an earlier get of other content into this place: its output was replaced (--force) or is gone
    if (earlier != null) await this.c.gets.delete(earlier.id)
    const record: GetRecord = { id: crypto.randomUUID(), cid, holdersOf, path: options.path, target, part, pin, created: Date.now(), bytesDone: 0, bytesTotal: 0 }
    await this.c.gets.put(record)
    return record
  }

  private async save (running: Running): Promise<void> {
    const { record, progress } = running
    if (record == null || running.givenUp === true) return
    if (progress != null) {
      record.bytesDone = progress.bytesDone
      record.bytesTotal = progress.bytesTotal
    }
    await this.c.gets.put(record)
  }
}

/** Bytes an output at `part` may take: free space on its disk, and what an earlier, interrupted get wrote there already. */
async function roomFor (part: string, refs: RefStore): Promise<number> {
  const free = await fs.statfs(path.dirname(part)).then(s => s.bavail * s.bsize, () => Infinity)
  return free + refs.written(recordsUnder(refs, part))
}
