import * as dagPb from '@ipld/dag-pb'
import { DagLimitError, NotAFileError } from '../errors.js'
import { UnixFS } from 'ipfs-unixfs'
import { DAG_PB_CODE, RAW_CODE } from './dag.js'
import { walkDagWith } from './dag-walk.js'
import type { DagLink, DagVisit } from './dag-walk.js'
import type { CID } from 'multiformats/cid'

export interface FileReaderOptions {
  /** Leaves read ahead of the one being yielded. */
  readAhead?: number
  signal?: AbortSignal
  /** Only these bytes of the file: [from, to), `to` past the end meaning to the end. */
  range?: ByteRange
}

export interface ByteRange {
  from: number
  to: number
}

/** Leaves read ahead by default: enough to keep the disk busy, few enough to keep memory flat. */
const DEFAULT_READ_AHEAD = 8

/** A piece of the file: a leaf to read, or data held inline in an interior node; `start` is its offset in the file. */
type Piece = { leaf: CID, start: number } | { data: Uint8Array, start: number }

/**
 * The bytes of a UnixFS file, in order, reading at most `readAhead` leaves
 * ahead of the consumer. (The UnixFS exporter's file reader pushes every
 * block into an unbounded queue, so a slow consumer makes it hold the whole
 * file in memory; this one is pulled.) Handles raw leaves and dag-pb nodes
 * carrying data. With a `range`, only the blocks that hold those bytes are
 * read (the interior nodes' block sizes say which).
 */
export async function * readFileContent (root: CID, get: (cid: CID) => Promise<Uint8Array>, options: FileReaderOptions = {}): AsyncGenerator<Uint8Array> {
  const readAhead = Math.max(1, options.readAhead ?? DEFAULT_READ_AHEAD)
  const range = options.range ?? { from: 0, to: Infinity }
  const pending: Array<Promise<Uint8Array>> = []
  for await (const item of pieces(root, get, range, options.signal)) {
    if ('node' in item) continue
    const read = ('data' in item ? Promise.resolve(item.data) : get(item.leaf)).then(bytes => trim(bytes, item.start, range))
    read.catch(() => {}) // awaited below, in order
    pending.push(read)
    if (pending.length >= readAhead) yield await pending.shift()!
  }
  while (pending.length > 0) yield await pending.shift()!
}

/**
 * The blocks a reader of `range` of the file needs, in the order it needs
 * them: every interior node on the way and the leaves holding those bytes
 * (a CAR of them lets a client verify the range: the trustless gateway's
 * `entity-bytes`).
 */
export async function * fileBlocks (root: CID, get: (cid: CID) => Promise<Uint8Array>, range: ByteRange, signal?: AbortSignal): AsyncGenerator<{ cid: CID }> {
  for await (const item of pieces(root, get, range, signal)) {
    if ('node' in item) yield { cid: item.node }
    else if ('leaf' in item) yield { cid: item.leaf }
  }
}

function trim (bytes: Uint8Array, start: number, range: ByteRange): Uint8Array {
  if (start >= range.from && start + bytes.byteLength <= range.to) return bytes
  return bytes.subarray(Math.max(0, range.from - start), Math.max(0, Math.min(bytes.byteLength, range.to - start)))
}

/**
 * The file's pieces in order, those overlapping `range`, with each interior
 * node met on the way: the bounded DAG walk, following only the links whose
 * bytes overlap the range (every link, without block sizes).
 */
async function * pieces (root: CID, get: (cid: CID) => Promise<Uint8Array>, range: ByteRange, signal?: AbortSignal): AsyncGenerator<Piece | { node: CID }> {
  /** Inline data of the interior node just expanded, yielded right after it. */
  let inline: { data: Uint8Array, start: number } | undefined
  /** Where a block starts in the file, and the size its parent gives it (none for the root). */
  interface At { start: number, size?: number }
  const expand = async ({ cid, at: { start, size: expected } }: DagVisit<At>): Promise<Array<DagLink<At>> | undefined> => {
    if (cid.code === RAW_CODE) return undefined
    if (cid.code !== DAG_PB_CODE) throw new NotAFileError(`unsupported codec 0x${cid.code.toString(16)} in a file`)
    const node = dagPb.decode(await get(cid))
    let at = start
    let sizes: bigint[] = []
    inline = undefined
    if (node.Data != null) {
      const unixfs = UnixFS.unmarshal(node.Data)
      // a node whose size is not what its parent says it is would put its bytes at the wrong offsets
      if (expected != null && Number(unixfs.fileSize()) !== expected) {
        throw new DagLimitError(`${cid.toString()} holds ${unixfs.fileSize()} bytes where its parent says ${expected}: its sizes contradict each other`)
      }
      sizes = unixfs.blockSizes
      const data = unixfs.data
      if (data != null && data.byteLength > 0) {
        if (at < range.to && at + data.byteLength > range.from) inline = { data, start: at }
        at += data.byteLength
      }
    }
    // each link covers the bytes its block size names; without sizes for every link, visit them all
    const known = sizes.length === node.Links.length
    if (!known && node.Links.length > 0 && (range.from > 0 || range.to !== Infinity)) {
      throw new NotAFileError(`${cid.toString()} does not give its children's sizes: a range of it cannot be read`)
    }
    const children: Array<DagLink<At>> = []
    for (let i = 0; i < node.Links.length; i++) {
      const size = known ? Number(sizes[i]) : Infinity
      if (!known || (at < range.to && at + size > range.from)) children.push({ cid: node.Links[i].Hash, at: { start: at, size: known ? size : undefined } })
      if (known) at += size
    }
    return children
  }
  for await (const visit of walkDagWith<At>([{ cid: root, at: { start: 0 } }], expand, { signal })) {
    if (visit.cid.code === RAW_CODE) {
      yield { leaf: visit.cid, start: visit.at.start }
      continue
    }
    yield { node: visit.cid }
    if (inline != null) yield inline
    inline = undefined
  }
}
