import fs from 'node:fs/promises'
import { TypedEventEmitter } from 'main-event'
import { blockKey } from '../../content/dag.js'
import { reverifiedBlock, verifyBlock } from '../../content/verify.js'
import { BlockNotFoundError, BlockVerificationError } from '../../errors.js'
import { FileHandles } from './file-handles.js'
import { VerifiedLeaves, sameIdentity } from './verified-leaves.js'
import type { VerifiedLeavesInit } from './verified-leaves.js'
import { LeafLocations } from './leaf-locations.js'
import { RefFiles } from './ref-files.js'
import type { RefFile, RefState } from './ref-files.js'
import type { VerifiedBlock } from '../../content/verify.js'
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'

export type { RefFile, RefState } from './ref-files.js'

export interface RefEvents {
  /** A file's state changed; its roots are named. */
  state: CustomEvent<{ file: RefFile, was: RefState }>
}

/** Files and bytes held by reference, by whose they are. */
export interface RefUsage {
  /** Shoal's own files (replica packs), complete or being written: in the repo. */
  packs: { files: number, bytes: number }
  /** The user's files shared in place, complete. */
  shared: { files: number, bytes: number }
  /** Gets' outputs still being written (the user's `.part` files). */
  partial: { files: number, bytes: number }
}

/**
 * Leaves kept by reference (as Kubo's filestore and BitTorrent do): the repo
 * records, for a raw leaf, which file holds it at which offset, instead of a
 * second copy of its bytes. Three parts: the file records (`RefFiles`),
 * where each leaf is (`LeafLocations`), and the open handles (`FileHandles`).
 *
 * Every leaf read from a file is verified against its CID before it is
 * handed out (or was, from this same file, which has not changed since:
 * `VerifiedLeaves`): a file changed under us is caught here, never served. A file
 * that fails is marked `modified` (or `missing`), its leaves stop counting as
 * held, and a `state` event tells the node to stop announcing its roots.
 */
export class RefStore extends TypedEventEmitter<RefEvents> {
  private readonly files: RefFiles
  private readonly locations: LeafLocations
  private readonly handles = new FileHandles()
  private readonly verified: VerifiedLeaves
  /** Leaves read from files: hashed, or trusted as verified before in a file unchanged since. */
  readonly reads = { verified: 0, trusted: 0 }
  private readonly log: Logger
  /** Bytes written so far into each file not complete yet (a stat of each, at open). */
  private readonly writtenTo = new Map<string, number>()
  /** A rename of Shoal's own files under way (see `relocate`). */
  private moving?: Promise<void>

  constructor (datastore: Datastore, log: Logger, init: { verifiedLeaves?: VerifiedLeavesInit } = {}) {
    super()
    this.verified = new VerifiedLeaves(init.verifiedLeaves)
    this.files = new RefFiles(datastore)
    this.locations = new LeafLocations(datastore)
    this.log = log
  }

  async open (options?: AbortOptions): Promise<void> {
    await this.files.open(options)
    for (const file of this.files.list()) {
      if (!file.complete) this.writtenTo.set(file.id, await allocated(file.path))
    }
  }

  async close (): Promise<void> {
    await this.handles.closeAll()
  }

  /** Every file record. */
  list (): RefFile[] {
    return this.files.list()
  }

  get (id: string): RefFile | undefined {
    return this.files.get(id)
  }

  /** The files holding a root's leaves. */
  filesOf (root: CID | string): RefFile[] {
    return this.files.of(root)
  }

  /** The worst state of the files holding a root's leaves; undefined when none does (its leaves are copies in the block store). */
  rootState (root: CID | string): RefState | undefined {
    return this.files.rootState(root)
  }

  /** The file record at `path`, if there is one. */
  atPath (path: string): RefFile | undefined {
    return this.files.atPath(path)
  }

  /**
   * A new record for a file. `complete` files have their size and time
   * recorded now (an added file); a download's file is completed later.
   */
  async addFile (path: string, init: { owned: boolean, complete: boolean, roots?: CID[] }): Promise<RefFile> {
    const file = this.files.create(path, init)
    if (init.complete) await this.files.stamp(file)
    else this.writtenTo.set(file.id, 0)
    await this.files.save(file)
    return file
  }

  /** The file holds leaves of `root` too. */
  async addRoot (file: RefFile, root: CID): Promise<void> {
    const key = root.toString()
    if (file.roots.includes(key)) return
    file.roots.push(key)
    await this.files.save(file)
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
        this.release(file.id)
        file.path = to(file)
        await this.files.save(file)
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
    this.release(file.id)
    await this.files.stamp(file)
    this.writtenTo.delete(file.id)
    await this.files.save(file)
  }

  /** Record that `cid`'s bytes are in `file` at `offset`. */
  async put (cid: CID, file: RefFile, offset: number, length: number): Promise<void> {
    await this.locations.add(blockKey(cid), [file.id, offset, length])
    const written = this.writtenTo.get(file.id)
    if (written != null) this.writtenTo.set(file.id, written + length)
  }

  /** Whether an ok file holds `cid` (by the records: the bytes are verified when read). */
  async has (cid: CID): Promise<boolean> {
    const locations = await this.locations.get(blockKey(cid))
    return locations.some(([id]) => this.files.get(id)?.state === 'ok')
  }

  /**
   * Read `cid` from a file that holds it and verify it. A file whose bytes
   * do not match is marked `modified` (a vanished one `missing`) and the next
   * location is tried; with none left, `BlockNotFoundError`.
   */
  async read (cid: CID, options?: AbortOptions): Promise<VerifiedBlock> {
    for (const [id, offset, length] of await this.locations.get(blockKey(cid))) {
      const file = this.files.get(id)
      if (file?.state !== 'ok') continue
      options?.signal?.throwIfAborted()
      let read: Awaited<ReturnType<FileHandles['readChecked']>>
      try {
        read = await this.readAtPath(file, offset, length)
      } catch (err: any) {
        await this.setState(file, err.code === 'ENOENT' ? 'missing' : 'modified', `cannot read it: ${err.code ?? err.message}`)
        continue
      }
      // verified before in this file, which has not changed since, nor during this read
      const unchanged = read.identity != null && sameIdentity(read.identity.before, read.identity.after) ? read.identity : undefined
      if (unchanged != null && this.verified.holds(file.id, offset, length, unchanged.before)) {
        this.reads.trusted++
        return reverifiedBlock(cid, read.bytes)
      }
      try {
        const block = verifyBlock(cid, read.bytes)
        this.reads.verified++
        if (unchanged != null) this.verified.record(file.id, offset, length, unchanged.before, unchanged.statAt)
        return block
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
   * `stat` per file); the leaves themselves are checked when read. Returns
   * the files that are `missing` but back at their path as they were
   * (moved away and back): worth verifying.
   */
  async check (): Promise<RefFile[]> {
    const back: RefFile[] = []
    for (const file of this.files.list()) {
      if (!file.complete || file.state === 'modified') continue
      const st = await fs.stat(file.path).catch((err: any) => err.code === 'ENOENT' ? null : undefined)
      if (st === undefined) continue
      if (file.state === 'missing') {
        if (st != null && st.size === file.size && st.mtimeMs === file.mtimeMs) back.push(file)
      } else if (st === null) {
        await this.setState(file, 'missing', 'the file is gone')
      } else if (st.size !== file.size || st.mtimeMs !== file.mtimeMs) {
        await this.setState(file, 'modified', 'its size or modification time changed')
      }
    }
    return back
  }

  /** `verify` found every leaf of the file intact: it is served again, with its new size and time. */
  async restored (file: RefFile): Promise<void> {
    await this.files.stamp(file)
    await this.setState(file, 'ok', 'every leaf verified')
  }

  /** Where `file` holds `cid` (undefined: it does not). */
  async placeIn (file: RefFile, cid: CID): Promise<{ offset: number, length: number } | undefined> {
    const location = (await this.locations.get(blockKey(cid))).find(l => l[0] === file.id)
    return location == null ? undefined : { offset: location[1], length: location[2] }
  }

  /** Read a leaf from one file, ignoring its state (for `verify`). */
  async readFrom (file: RefFile, cid: CID): Promise<Uint8Array | undefined> {
    const location = (await this.locations.get(blockKey(cid))).find(l => l[0] === file.id)
    if (location == null) return undefined
    return await this.handles.read(file.id, file.path, location[1], location[2])
  }

  /**
   * Drop every file record none of whose roots `keepRoot` keeps, and every
   * leaf location in a dropped file. A file Shoal owns (a pack) is deleted;
   * a user's file is never touched. Returns the records dropped.
   */
  async sweep (keepRoot: (root: string) => boolean, options?: AbortOptions & { only?: string }): Promise<{ files: number, bytes: number }> {
    let files = 0
    let bytes = 0
    for (const file of this.files.list()) {
      // `only`: a sweep for one root leaves every other record alone (an add still under way has none yet)
      if (options?.only != null && !file.roots.includes(options.only)) continue
      if (file.roots.some(keepRoot)) continue
      await this.drop(file)
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
    // a sweep for one root that dropped nothing leaves the locations alone (a full sweep also clears
    // those of records forgotten since the last one)
    if (files > 0 || options?.only == null) await this.locations.sweep(id => this.files.has(id), options)
    return { files, bytes }
  }

  /** Drop these records (a refused or given-up download's): their leaf locations go at the next sweep. */
  async forget (files: RefFile[]): Promise<void> {
    for (const file of files) await this.drop(file)
  }

  /** Bytes written so far into these files (a complete one: its size). */
  written (files: RefFile[]): number {
    return files.reduce((n, f) => n + (f.complete ? f.size : this.writtenTo.get(f.id) ?? 0), 0)
  }

  /** Files and bytes held by reference, by whose they are (from the records: no file is read). */
  usage (): RefUsage {
    const usage: RefUsage = { packs: { files: 0, bytes: 0 }, shared: { files: 0, bytes: 0 }, partial: { files: 0, bytes: 0 } }
    for (const file of this.files.list()) {
      const bytes = file.complete ? file.size : this.writtenTo.get(file.id) ?? 0
      const part = file.owned ? usage.packs : file.complete ? usage.shared : usage.partial
      part.files++
      part.bytes += bytes
    }
    return usage
  }

  /** Set a file's state (saying why, in the log) and tell listeners. */
  async setState (file: RefFile, state: RefState, why: string): Promise<void> {
    if (file.state === state) return
    const was = file.state
    file.state = state
    if (state === 'ok') this.log('%s is served again: %s', file.path, why)
    else this.log.error('%s is %s (%s): its leaves are no longer served; run `shoal verify` once it is back', file.path, state, why)
    this.release(file.id)
    await this.files.save(file)
    this.safeDispatchEvent('state', { detail: { file, was } })
  }

  private async drop (file: RefFile): Promise<void> {
    this.release(file.id)
    this.writtenTo.delete(file.id)
    await this.files.delete(file)
  }

  /** A read of the file, once more at its new path if it was renamed by `relocate` meanwhile. */
  private async readAtPath (file: RefFile, offset: number, length: number): ReturnType<FileHandles['readChecked']> {
    const before = file.path
    try {
      return await this.handles.readChecked(file.id, file.path, offset, length)
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
      await this.moving
      if (file.path === before) throw err
      return await this.handles.readChecked(file.id, file.path, offset, length)
    }
  }

  /** Stop reading a file through its open handle, and trust none of its leaves until verified again. */
  private release (id: string): void {
    this.handles.close(id)
    this.verified.forget(id)
  }
}

/** Bytes a file takes on disk (a download's output is sparse until written). */
async function allocated (path: string): Promise<number> {
  return await fs.stat(path).then(st => st.isFile() ? st.blocks * 512 : 0, () => 0)
}
