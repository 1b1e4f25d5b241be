import fsp from 'node:fs/promises'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { MAX_DAG_BLOCKS } from '../content/constants.js'
import { countDagBlocks } from '../content/dag-shape.js'
import { isInterior } from '../content/dag.js'
import { walkDagWith } from '../content/dag-walk.js'
import { DagLimitError, InputError, NotAFileError } from '../errors.js'
import { OUTPUT_FLUSH_BYTES } from './constants.js'
import { checkEntryName } from './export-path.js'
import type { DagLink } from '../content/dag-walk.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { BlockWriter } from '../exchange/block-sink.js'
import type { BlockStore } from '../store/block-store.js'
import type { RefFile, RefStore } from '../store/refs/ref-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Where a block's content goes: a file entry of the output (offset 0), a range inside a file, or a directory entry. */
type Position =
  | { kind: 'entry', path: string }
  | { kind: 'range', file: OutFile, offset: number }
  | { kind: 'shard', path: string, padLength: number }

interface OutFile {
  path: string
  /** The size its UnixFS node declares (writes past it are refused). */
  size: number
  record: RefFile
  handle: fsp.FileHandle
  /** Bytes written since the last flush to disk began. */
  unflushed: number
  /** A flush under way (one at a time per file). */
  flushing?: Promise<void>
  /** What a flush failed with: a failed fsync is reported once by the kernel, so it is kept for `finish`. */
  flushError?: unknown
}

export interface LayoutInit {
  /** Shoal's own output (a replica's pack), deleted when no root keeps it; a user's output never is. */
  owned: boolean
}

/**
 * One download's output, written in place (the way BitTorrent writes its
 * pieces): every verified leaf goes straight to its offset in the output
 * file under `part` (a file, or a folder tree for a directory), and the
 * reference store records where it is, so the repo keeps no second copy and
 * the peer serves the leaf from there at once. Where a leaf goes is learned
 * from its parent (UnixFS block sizes, directory entry names), so each
 * interior node is placed before its children are asked for. Interior
 * nodes stay in the block store. `finish` fills in whatever did not arrive
 * through this layout (leaves already held, or stored by another download),
 * so the output is complete whatever the order of arrival.
 *
 * An output found under `part` from an earlier, interrupted download of the
 * same root is reopened, not truncated: its recorded leaves count as held.
 */
export class OutputLayout implements BlockWriter {
  readonly part: string
  private readonly root: CID
  private readonly blocks: BlockStore
  private readonly refs: RefStore
  private readonly init: LayoutInit
  private readonly positions = new Map<string, Position[]>()
  private readonly files = new Map<string, Promise<OutFile>>()
  private readonly made: RefFile[] = []
  /** An earlier download's output was reopened. */
  private resumed = false
  /** `path:offset` of every leaf written, and its length. */
  private readonly written = new Map<string, number>()
  /** Places given to blocks so far (a block repeated in the DAG has one per occurrence). */
  private placed = 0

  constructor (blocks: BlockStore, refs: RefStore, root: CID, part: string, init: LayoutInit) {
    this.blocks = blocks
    this.refs = refs
    this.root = root
    this.part = part
    this.init = init
  }

  /**
   * Place the root, and below it every interior node already in the store.
   * A DAG whose places would be more than `MAX_DAG_BLOCKS` is refused first,
   * from a count that reads each stored interior node once.
   */
  async open (options?: AbortOptions): Promise<void> {
    await countDagBlocks(this.root, async cid => await this.blocks.has(cid, options) ? (await this.blocks.get(cid, options)).bytes : undefined, {}, options?.signal)
    await this.walk(options, async (cid, position) => {
      if (!isInterior(cid)) {
        this.addPosition(cid, position)
        await this.fileAt(cid, position)
        return undefined
      }
      if (!(await this.blocks.has(cid, options))) {
        this.addPosition(cid, position)
        return undefined
      }
      const bytes = (await this.blocks.get(cid, options)).bytes
      return await this.place(cid, bytes, position)
    })
  }

  /** A verified block of the download: interior nodes to the store (and placed), leaves into the output. */
  async put (block: VerifiedBlock, options?: AbortOptions): Promise<void> {
    const key = block.cid.toString()
    const positions = this.positions.get(key) ?? []
    if (isInterior(block.cid)) {
      await this.blocks.put(block, options)
      await this.seen(block.cid, block.bytes)
      return
    }
    if (positions.length === 0) {
      // not placed (nothing said where it goes yet): kept in the store; `finish` copies it out
      await this.blocks.put(block, options)
      return
    }
    this.positions.delete(key)
    let first: { file: OutFile, offset: number } | undefined
    for (const position of positions) {
      const at = await this.fileAt(block.cid, position)
      await this.writeAt(at.file, at.offset, block.parts)
      first ??= at
    }
    if (first != null) await this.refs.put(block.cid, first.file.record, first.offset, block.byteLength)
  }

  /** An interior node of the DAG is in the store (stored here or by another download): place its children. */
  async seen (cid: CID, bytes: Uint8Array): Promise<void> {
    const key = cid.toString()
    const positions = this.positions.get(key) ?? []
    this.positions.delete(key)
    for (const position of positions) {
      for (const child of await this.place(cid, bytes, position)) this.addPosition(child.cid, child.at)
    }
  }

  /**
   * Every block is in the store: walk the whole DAG once more, write every
   * leaf that is not in the output yet (read and verified from wherever this
   * peer holds it), and make the output durable. Returns what it is.
   */
  async finish (options?: AbortOptions): Promise<{ type: 'file' | 'directory', size: number }> {
    let size = 0
    await this.walk(options, async (cid, position) => {
      if (isInterior(cid)) return await this.place(cid, (await this.blocks.get(cid, options)).bytes, position)
      const at = await this.fileAt(cid, position)
      // written through this layout: verified on arrival, not read again
      const length = this.written.get(`${at.file.path}:${at.offset}`)
      if (length != null) {
        size += length
        return undefined
      }
      // written there by an earlier, interrupted download of this root (verified then)
      const earlier = await this.refs.placeIn(at.file.record, cid)
      if (earlier?.offset === at.offset) {
        size += earlier.length
        return undefined
      }
      const block = await this.blocks.get(cid, options)
      size += block.byteLength
      await this.writeAt(at.file, at.offset, block.parts)
      await this.refs.put(cid, at.file.record, at.offset, block.byteLength)
      return undefined
    })
    for (const open of this.files.values()) {
      const file = await open
      await file.flushing
      if (file.flushError != null) throw file.flushError
      await file.handle.sync()
    }
    await this.close()
    const st = await fsp.stat(this.part)
    return { type: st.isDirectory() ? 'directory' : 'file', size }
  }

  /** Whether the output holds nothing worth resuming from: no leaf written, now or by an earlier download. */
  get empty (): boolean {
    return this.written.size === 0 && !this.resumed
  }

  /** The records of the output's files. */
  records (): RefFile[] {
    return [...this.made]
  }

  /** Close the output's files (a failed download keeps them, to resume). */
  async close (): Promise<void> {
    const files = [...this.files.values()]
    this.files.clear()
    await Promise.all(files.map(async f => { await f.then(async o => { await o.handle.close() }).catch(() => {}) }))
  }

  /**
   * Walk the DAG from the root with the position of each block (the one
   * bounded walker, following every link: a repeated leaf is written at each
   * of its places): `visit` returns the children of an interior node it
   * placed, or undefined.
   */
  private async walk (options: AbortOptions | undefined, visit: (cid: CID, position: Position) => Promise<Array<DagLink<Position>> | undefined>): Promise<void> {
    const root: DagLink<Position> = { cid: this.root, at: { kind: 'entry', path: this.part } }
    for await (const _ of walkDagWith([root], async v => await visit(v.cid, v.at), { signal: options?.signal })) { /* visited */ }
  }

  /** Make what an interior node stands for (a file, a folder, a range of a file) and return where its children go. */
  private async place (cid: CID, bytes: Uint8Array, position: Position): Promise<Array<DagLink<Position>>> {
    const node = dagPb.decode(bytes)
    if (node.Data == null) throw new NotAFileError(`${cid.toString()} is not a UnixFS node`)
    const unixfs = UnixFS.unmarshal(node.Data)
    if (unixfs.type === 'directory' || unixfs.type === 'hamt-sharded-directory') {
      if (position.kind === 'range') throw new InputError(`${cid.toString()}: a directory inside a file`)
      if (position.kind === 'entry') await fsp.mkdir(position.path, { recursive: true })
      const padLength = unixfs.type === 'directory' ? 0 : position.kind === 'shard' ? position.padLength : (Number(unixfs.fanout ?? 256n) - 1).toString(16).length
      return node.Links.map(link => {
        const name = link.Name ?? ''
        if (padLength > 0 && name.length === padLength) return { cid: link.Hash, at: { kind: 'shard', path: position.path, padLength } }
        const entry = padLength > 0 ? name.slice(padLength) : name
        checkEntryName(entry)
        return { cid: link.Hash, at: { kind: 'entry', path: path.join(position.path, entry) } }
      })
    }
    if (unixfs.type !== 'file' && unixfs.type !== 'raw') {
      // a symbolic link (or metadata node) from the network could point anywhere: never written
      const name = position.kind === 'entry' ? `: ${JSON.stringify(path.basename(position.path))}` : ''
      throw new InputError(`refusing a UnixFS ${unixfs.type} in shared content${name} (${cid.toString()})`)
    }
    if (position.kind === 'shard') throw new InputError(`${cid.toString()}: a file where a directory shard belongs`)
    const at = position.kind === 'range' ? position : { file: await this.openFile(position.path, Number(unixfs.fileSize())), offset: 0 }
    let offset = at.offset
    if (unixfs.data != null && unixfs.data.byteLength > 0) {
      await this.writeAt(at.file, offset, unixfs.data)
      offset += unixfs.data.byteLength
    }
    if (unixfs.blockSizes.length !== node.Links.length) throw new InputError(`${cid.toString()}: block sizes do not match its links`)
    return node.Links.map((link, i) => {
      const child = { cid: link.Hash, at: { kind: 'range' as const, file: at.file, offset } }
      offset += Number(unixfs.blockSizes[i])
      if (offset > at.file.size) throw new DagLimitError(`${cid.toString()}: its blocks reach past the ${at.file.size} bytes its file declares`)
      return child
    })
  }

  private addPosition (cid: CID, position: Position): void {
    // a node repeated in the DAG places its children once per place: a few blocks must not make millions
    if (++this.placed > MAX_DAG_BLOCKS) throw new DagLimitError(`the DAG under ${this.root.toString()} would fill more than ${MAX_DAG_BLOCKS} places: refused`)
    const key = cid.toString()
    const list = this.positions.get(key)
    if (list != null) list.push(position)
    else this.positions.set(key, [position])
  }

  /** The file and offset a leaf goes to. */
  private async fileAt (cid: CID, position: Position): Promise<{ file: OutFile, offset: number }> {
    if (position.kind === 'range') return position
    if (position.kind === 'shard') throw new InputError(`${cid.toString()}: a file where a directory shard belongs`)
    return { file: await this.openFile(position.path), offset: 0 }
  }

  /** Open (once) the output file at `file`, sized to `size` when known. */
  private async openFile (file: string, size?: number): Promise<OutFile> {
    let open = this.files.get(file)
    if (open == null) {
      open = this.openAfresh(file)
      this.files.set(file, open)
    }
    const out = await open
    if (size != null) {
      out.size = size
      await out.handle.truncate(size)
    }
    return out
  }

  /** One left by an interrupted download of this root is reused as it is; anything else is started afresh. */
  private async openAfresh (file: string): Promise<OutFile> {
    const earlier = this.refs.atPath(file)
    if (earlier != null && !earlier.complete && earlier.state === 'ok' && earlier.roots.includes(this.root.toString())) {
      const handle = await fsp.open(file, 'r+').catch(() => undefined)
      if (handle != null) {
        this.resumed = true
        this.made.push(earlier)
        return { path: file, size: Infinity, record: earlier, handle, unflushed: 0 }
      }
    }
    const handle = await fsp.open(file, 'w', 0o644)
    const record = await this.refs.addFile(file, { owned: this.init.owned, complete: false, roots: [this.root] })
    this.made.push(record)
    return { path: file, size: Infinity, record, handle, unflushed: 0 }
  }

  /** Write `bytes` (one buffer, or the pieces a block arrived in: one writev) at `offset`. */
  private async writeAt (file: OutFile, offset: number, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    let parts = bytes instanceof Uint8Array ? [bytes] : bytes
    const length = parts.reduce((n, p) => n + p.byteLength, 0)
    let done = 0
    while (done < length) {
      const { bytesWritten } = await file.handle.writev(parts as Uint8Array[], offset + done).catch((err: Error & { path?: string }) => {
        // a write through a handle names no file: name it, so a full disk is told apart from the repo's
        err.path ??= file.path
        throw err
      })
      done += bytesWritten
      if (done < length) parts = rest(parts, bytesWritten)
    }
    this.written.set(`${file.path}:${offset}`, length)
    file.unflushed += length
    if (file.unflushed >= OUTPUT_FLUSH_BYTES && file.flushing == null) this.flush(file)
  }

  /**
   * Start writing what the page cache holds of `file` to disk while the
   * download goes on, so that `finish` does not wait for the whole output
   * to be written out at once (256 MiB: half a second of a 3.5 s get).
   */
  private flush (file: OutFile): void {
    file.unflushed = 0
    file.flushing = file.handle.datasync()
      .catch((err: Error & { path?: string }) => {
        err.path ??= file.path
        file.flushError ??= err
      })
      .finally(() => { file.flushing = undefined })
  }
}

/** What is left of `parts` once their first `written` bytes are on disk (a short write). */
function rest (parts: readonly Uint8Array[], written: number): Uint8Array[] {
  const left: Uint8Array[] = []
  for (const part of parts) {
    if (written >= part.byteLength) {
      written -= part.byteLength
      continue
    }
    left.push(written > 0 ? part.subarray(written) : part)
    written = 0
  }
  return left
}
