import * as dagPb from '@ipld/dag-pb'
import { NotAFileError } from '../errors.js'
import { UnixFS } from 'ipfs-unixfs'
import { DAG_PB_CODE, RAW_CODE } from './dag.js'
import type { CID } from 'multiformats/cid'

export interface FileReaderOptions {
  /** Leaves read ahead of the one being yielded. */
  readAhead?: number
  signal?: AbortSignal
}

/** Leaves read ahead by default: enough to keep the disk busy, few enough to keep memory flat. */
const DEFAULT_READ_AHEAD = 8

/**
 * The bytes of a UnixFS file, in order, reading at most `readAhead` leaves
 * ahead of the consumer. (The UnixFS exporter's file reader pushes every
 * block into an unbounded queue, so a slow consumer makes it hold the whole
 * file in memory; this one is pulled.) Handles raw leaves and dag-pb nodes
 * carrying data.
 */
export async function * readFileContent (root: CID, get: (cid: CID) => Promise<Uint8Array>, options: FileReaderOptions = {}): AsyncGenerator<Uint8Array> {
  const readAhead = Math.max(1, options.readAhead ?? DEFAULT_READ_AHEAD)
  const pending: Array<Promise<Uint8Array>> = []
  for await (const item of pieces(root, get, options.signal)) {
    const read = item instanceof Uint8Array ? Promise.resolve(item) : get(item)
    read.catch(() => {}) // awaited below, in order
    pending.push(read)
    if (pending.length >= readAhead) yield await pending.shift()!
  }
  while (pending.length > 0) yield await pending.shift()!
}

/** The file's pieces in order: leaf CIDs to read, or data held inline in interior nodes. */
async function * pieces (root: CID, get: (cid: CID) => Promise<Uint8Array>, signal?: AbortSignal): AsyncGenerator<CID | Uint8Array> {
  const stack: CID[] = [root]
  while (stack.length > 0) {
    signal?.throwIfAborted()
    const cid = stack.pop()!
    if (cid.code === RAW_CODE) {
      yield cid
      continue
    }
    if (cid.code !== DAG_PB_CODE) throw new NotAFileError(`unsupported codec 0x${cid.code.toString(16)} in a file`)
    const node = dagPb.decode(await get(cid))
    if (node.Data != null) {
      const data = UnixFS.unmarshal(node.Data).data
      if (data != null && data.byteLength > 0) yield data
    }
    for (let i = node.Links.length - 1; i >= 0; i--) stack.push(node.Links[i].Hash)
  }
}
