import fs from 'node:fs/promises'
import { Key } from 'interface-datastore'
import { TypedEventEmitter } from 'main-event'
import { blockKey } from '../content/dag.js'
import { verifyBlock } from '../content/verify.js'
import { BlockNotFoundError, BlockVerificationError } from '../errors.js'
import { REF_CACHE, REF_HANDLES } from './constants.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'

/**
 * What a referenced file is: `ok` (its leaves are served from it),
 * `modified` (its size or time changed, or a leaf read from it failed
 * verification) or `missing` (it is gone). Only `ok` files are read.
 */
export type RefState = 'ok' | 'modified' | 'missing'

/** A file outside the block store that holds leaves (the user's, or a pack Shoal owns). */
export interface RefFile {
  id: string
  path: string
  /** Roots whose leaves it holds: it is kept while any of them is. */
  roots: string[]
  /** Shoal's own (a replica's pack): deleted when no root keeps it. A user's file never is. */
  owned: boolean
  /** False while a download is still writing it: its size and time are not checked then. */
  complete: boolean
  size: number
  mtimeMs: number
  state: RefState
}

/** Where one leaf lives: [file id, offset, length]. */
type Location = [string, number, number]

export interface RefEvents {
  /** A file's state changed; its roots are named. */
  state: CustomEvent<{ file: RefFile, was: RefState }>
}

const FILE_PREFIX = '/shoal/refs/file/'
const LEAF_PREFIX = '/shoal/refs/leaf/'

const STATE_RANK: Record<RefState, number> = { ok: 0, modified: 1, missing: 2 }

/**
 * Leaves kept by reference (as Kubo's filestore and BitTorrent do): the repo
 * records, for a raw leaf, which file holds it at which offset, instead of a
 * second copy of its bytes. Records live in the datastore; the file records
 * are also held in memory (there are few).
 *
 * Every leaf read from a file is verified against its CID before it is
 * handed out: a file changed under us is caught here, never served. A file
 * that fails is marked `modified` (or `missing`), its leaves stop counting as
 * held, and a `state` event tells the node to stop announcing its roots.
 */
export class RefStore extends TypedEventEmitter<RefEvents> {
  private readonly datastore: Datastore
  private readonly log: Logger
  private readonly files = new Map<string, RefFile>()
  /** Open read handles by file id, least recently used first. */
  private readonly handles = new Map<string, Handle>()
  /** The last write of each leaf key under way: location lists are read, changed and written one at a time. */
  private readonly writing = new Map<string, Promise<void>>()
  /** Leaf locations lately read or written, least recently used first (the datastore holds them all). */
  private readonly cache = new Map<string, Location[]>()
  /** A rename of Shoal's own files under way (see `relocate`). */
  private moving?: Promise<void>

  constructor (datastore: Datastore, log: Logger) {
    super()
    this.datastore = datastore
    this.log = log
  }

  async open (options?: AbortOptions): Promise<void> {
    for await (const { value } of this.datastore.query({ prefix: FILE_PREFIX }, options)) {
      const file = JSON.parse(new TextDecoder().decode(value)) as RefFile
      this.files.set(file.id, file)
    }
  }

  async close (): Promise<void> {
    const handles = [...this.handles.values()]
    this.handles.clear()
    await Promise.all(handles.map(async h => { await h.handle.then(async fh => { await fh.close() }, () => {}) }))
  }

  /** Every file record. */
  list (): RefFile[] {
    return [...this.files.values()]
  }

  get (id: string): RefFile | undefined {
    return this.files.get(id)
  }

  /** The files holding a root's leaves. */
  filesOf (root: CID | string): RefFile[] {
    const key = root.toString()
    return this.list().filter(f => f.roots.includes(key))
  }

  /** The worst state of the files holding a root's leaves; undefined when none does (its leaves are copies in the block store). */
  rootState (root: CID | string): RefState | undefined {
    let worst: RefState | undefined
    for (const file of this.filesOf(root)) {
      if (worst == null || STATE_RANK[file.state] > STATE_RANK[worst]) worst = file.state
    }
    return worst
  }

  /** The complete, ok file at `path` if there is one, else undefined. */
  atPath (path: string): RefFile | undefined {
    return this.list().find(f => f.path === path)
  }

  /**
   * A new record for a file. `complete` files have their size and time
   * recorded now (an added file); a download's file is completed later.
   */
  async addFile (path: string, init: { owned: boolean, complete: boolean, roots?: CID[] }): Promise<RefFile> {
    const file: RefFile = {
      id: crypto.randomUUID(),
      path,
      roots: (init.roots ?? []).map(r => r.toString()),
      owned: init.owned,
      complete: false,
      size: 0,
      mtimeMs: 0,
      state: 'ok'
    }
    if (init.complete) await this.stamp(file)
    await this.save(file)
    return file
  }

  /** The file holds leaves of `root` too. */
  async addRoot (file: RefFile, root: CID): Promise<void> {
    const key = root.toString()
    if (file.roots.includes(key)) return
    file.roots.push(key)
    await this.save(file)
  }

  /**
   * Rename files Shoal wrote (a finished download: `rename` moves them, `to`
   * says where each went) without a read in between taking them for
   * missing: reads that meet a vanished path wait for this and try the new one.
   */
  async relocate (files: RefFile[], rename: () => Promise<void>, to: (file: RefFile) => string): Promise<void> {
    const moving = (async () => {
      await rename()
      for (const file of files) {
        await this.closeHandle(file.id)
        file.path = to(file)
        await this.save(file)
      }
    })()
    this.moving = moving.catch(() => {})
    try {
      await moving
    } finally {
      if (this.moving != null) this.moving = undefined
    }
  }

  /** Every leaf is in the file and verified: record its size and time, from which changes are seen. */
  async completed (file: RefFile): Promise<void> {
    await this.closeHandle(file.id)
    await this.stamp(file)
    await this.save(file)
  }

  /** Record that `cid`'s bytes are in `file` at `offset`. */
  async put (cid: CID, file: RefFile, offset: number, length: number): Promise<void> {
    const key = blockKey(cid)
    const write = (this.writing.get(key) ?? Promise.resolve()).catch(() => {}).then(async () => {
      // most leaves put are new: looked for without the cost of a not-found error
      const cached = this.cache.get(key)
      const locations = cached != null ? [...cached] : await this.datastore.has(new Key(LEAF_PREFIX + key)) ? await this.locations(key) : []
      if (locations.some(l => l[0] === file.id)) return
      locations.push([file.id, offset, length])
      await this.datastore.put(new Key(LEAF_PREFIX + key), encode(locations))
      this.remember(key, locations)
    })
    this.writing.set(key, write)
    try {
      await write
    } finally {
      if (this.writing.get(key) === write) this.writing.delete(key)
    }
  }

  /** Whether an ok file holds `cid` (by the records: the bytes are verified when read). */
  async has (cid: CID): Promise<boolean> {
    const locations = await this.locations(blockKey(cid))
    return locations.some(([id]) => this.files.get(id)?.state === 'ok')
  }

  /**
   * Read `cid` from a file that holds it and verify it. A file whose bytes
   * do not match is marked `modified` (a vanished one `missing`) and the next
   * location is tried; with none left, `BlockNotFoundError`.
   */
  async read (cid: CID, options?: AbortOptions): Promise<VerifiedBlock> {
    for (const [id, offset, length] of await this.locations(blockKey(cid))) {
      const file = this.files.get(id)
      if (file?.state !== 'ok') continue
      options?.signal?.throwIfAborted()
      let bytes: Uint8Array
      try {
        bytes = await this.readAtPath(file, offset, length)
      } catch (err: any) {
        await this.setState(file, err.code === 'ENOENT' ? 'missing' : 'modified', `cannot read it: ${err.code ?? err.message}`)
        continue
      }
      try {
        return verifyBlock(cid, bytes)
      } catch (err) {
        if (!(err instanceof BlockVerificationError)) throw err
        await this.setState(file, 'modified', `the bytes at ${offset} no longer match ${cid.toString()}`)
      }
    }
    throw new BlockNotFoundError(`block ${cid.toString()} is not in the store`)
  }

  /**
   * Compare every complete file's size and time with what was recorded: a
   * changed file becomes `modified`, a vanished one `missing`. Cheap (one
   * `stat` per file); the leaves themselves are checked when read.
   */
  async check (): Promise<void> {
    for (const file of this.list()) {
      if (!file.complete || file.state !== 'ok') continue
      const st = await fs.stat(file.path).catch((err: any) => err.code === 'ENOENT' ? null : undefined)
      if (st === undefined) continue
      if (st === null) {
        await this.setState(file, 'missing', 'the file is gone')
      } else if (st.size !== file.size || st.mtimeMs !== file.mtimeMs) {
        await this.setState(file, 'modified', 'its size or modification time changed')
      }
    }
  }

  /** `verify` found every leaf of the file intact: it is served again, with its new size and time. */
  async restored (file: RefFile): Promise<void> {
    await this.stamp(file)
    await this.setState(file, 'ok', 'every leaf verified')
  }

  /** Where `file` holds `cid` (undefined: it does not). */
  async placeIn (file: RefFile, cid: CID): Promise<{ offset: number, length: number } | undefined> {
    const location = (await this.locations(blockKey(cid))).find(l => l[0] === file.id)
    return location == null ? undefined : { offset: location[1], length: location[2] }
  }

  /** Read a leaf from one file, ignoring its state (for `verify`). */
  async readFrom (file: RefFile, cid: CID): Promise<Uint8Array | undefined> {
    const location = (await this.locations(blockKey(cid))).find(l => l[0] === file.id)
    if (location == null) return undefined
    return await this.readAt(file, location[1], location[2])
  }

  /**
   * Drop every file record none of whose roots `keepRoot` keeps, and every
   * leaf location in a dropped file. A file Shoal owns (a pack) is deleted;
   * a user's file is never touched. Returns the records dropped.
   */
  async sweep (keepRoot: (root: string) => boolean, options?: AbortOptions & { only?: string }): Promise<{ files: number, bytes: number }> {
    let files = 0
    let bytes = 0
    for (const file of this.list()) {
      // `only`: a sweep for one root leaves every other record alone (an add still under way has none yet)
      if (options?.only != null && !file.roots.includes(options.only)) continue
      if (file.roots.some(keepRoot)) continue
      await this.closeHandle(file.id)
      this.files.delete(file.id)
      await this.datastore.delete(new Key(FILE_PREFIX + file.id), options)
      if (file.owned) {
        const st = await fs.stat(file.path).catch(() => undefined)
        await fs.rm(file.path, { force: true })
        bytes += st?.size ?? 0
        this.log('deleted pack %s', file.path)
      } else {
        this.log('dropped the reference to %s (the file itself is left alone)', file.path)
      }
      files++
    }
    for await (const { key, value } of this.datastore.query({ prefix: LEAF_PREFIX }, options)) {
      const locations = decode(value)
      const live = locations.filter(l => this.files.has(l[0]))
      if (live.length === locations.length) continue
      const leaf = key.toString().slice(LEAF_PREFIX.length)
      // a put of this key may be under way: it reads the list again and keeps what it adds
      await (this.writing.get(leaf) ?? Promise.resolve()).catch(() => {})
      const now = (await this.locations(leaf)).filter(l => this.files.has(l[0]))
      this.cache.delete(leaf)
      if (now.length === 0) await this.datastore.delete(key, options)
      else await this.datastore.put(key, encode(now), options)
    }
    return { files, bytes }
  }

  /** Drop these records (a refused download's): their leaf locations go at the next sweep. */
  async forget (files: RefFile[]): Promise<void> {
    for (const file of files) {
      await this.closeHandle(file.id)
      this.files.delete(file.id)
      await this.datastore.delete(new Key(FILE_PREFIX + file.id))
    }
  }

  /** Bytes in files Shoal owns (packs): part of what the repo uses. */
  ownedBytes (): number {
    let n = 0
    for (const file of this.files.values()) if (file.owned) n += file.size
    return n
  }

  /** Set a file's state (saying why, in the log) and tell listeners. */
  async setState (file: RefFile, state: RefState, why: string): Promise<void> {
    if (file.state === state) return
    const was = file.state
    file.state = state
    if (state === 'ok') this.log('%s is served again: %s', file.path, why)
    else this.log.error('%s is %s (%s): its leaves are no longer served; run `shoal verify` once it is back', file.path, state, why)
    await this.closeHandle(file.id)
    await this.save(file)
    this.safeDispatchEvent('state', { detail: { file, was } })
  }

  private async stamp (file: RefFile): Promise<void> {
    const st = await fs.stat(file.path)
    file.size = st.size
    file.mtimeMs = st.mtimeMs
    file.complete = true
  }

  private async save (file: RefFile): Promise<void> {
    this.files.set(file.id, file)
    await this.datastore.put(new Key(FILE_PREFIX + file.id), new TextEncoder().encode(JSON.stringify(file)))
  }

  private async locations (key: string): Promise<Location[]> {
    const cached = this.cache.get(key)
    if (cached != null) return cached
    try {
      const locations = decode(await this.datastore.get(new Key(LEAF_PREFIX + key)))
      this.remember(key, locations)
      return locations
    } catch (err: any) {
      if (err.name === 'NotFoundError') return []
      throw err
    }
  }

  /** Keep a leaf's locations at hand (the most recently used `REF_CACHE`: a seeder reads the same leaves again and again). */
  private remember (key: string, locations: Location[]): void {
    this.cache.delete(key)
    this.cache.set(key, locations)
    if (this.cache.size > REF_CACHE) {
      const [oldest] = this.cache.keys()
      this.cache.delete(oldest)
    }
  }

  /** `readAt`, once more at the file's new path if it was renamed by `relocate` meanwhile. */
  private async readAtPath (file: RefFile, offset: number, length: number): Promise<Uint8Array> {
    const before = file.path
    try {
      return await this.readAt(file, offset, length)
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
      await this.moving
      if (file.path === before) throw err
      return await this.readAt(file, offset, length)
    }
  }

  private async readAt (file: RefFile, offset: number, length: number): Promise<Uint8Array> {
    const entry = this.acquire(file)
    try {
      const handle = await entry.handle
      // every byte is read into it (a short read is an error): no need to zero it first
      const bytes = Buffer.allocUnsafe(length)
      const { bytesRead } = await handle.read(bytes, 0, length, offset)
      if (bytesRead !== length) throw Object.assign(new Error(`short read (${bytesRead} of ${length} bytes)`), { code: 'ESHORT' })
      return bytes
    } finally {
      entry.users--
      this.trim()
    }
  }

  /** An open handle on the file (opened once, shared by reads, closed only when no read uses it). */
  private acquire (file: RefFile): Handle {
    let entry = this.handles.get(file.id)
    if (entry == null || entry.closing) {
      entry = { handle: fs.open(file.path, 'r'), users: 0, closing: false }
      entry.handle.catch(() => {})
    } else {
      this.handles.delete(file.id)
    }
    // most recently used goes last
    this.handles.set(file.id, entry)
    entry.users++
    return entry
  }

  /** Close idle handles beyond the limit, and those marked to close. */
  private trim (): void {
    let excess = this.handles.size - REF_HANDLES
    for (const [id, entry] of this.handles) {
      if (entry.users > 0) continue
      if (!entry.closing && excess <= 0) continue
      this.handles.delete(id)
      excess--
      void entry.handle.then(async h => { await h.close() }, () => {})
    }
  }

  /** Stop using the handle on a file (it moved, changed or went): closed once idle. */
  private async closeHandle (id: string): Promise<void> {
    const entry = this.handles.get(id)
    if (entry == null) return
    entry.closing = true
    this.trim()
  }
}

interface Handle {
  handle: Promise<fs.FileHandle>
  users: number
  /** Set when the file moved or changed: the next read opens it afresh. */
  closing: boolean
}

function encode (locations: Location[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(locations))
}

function decode (bytes: Uint8Array): Location[] {
  return JSON.parse(new TextDecoder().decode(bytes)) as Location[]
}
