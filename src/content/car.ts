import { CarBlockIterator, CarWriter } from '@ipld/car'
import { InputError } from '../errors.js'
import { blockKey } from './dag.js'
import { MAX_CHUNK_SIZE } from './profile.js'
import { walkDag } from './dag-walk.js'
import { verifyBlock } from './verify.js'
import type { VerifiedBlock } from './verify.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** The media type of a CAR (IPLD content archive, version 1). */
export const CAR_CONTENT_TYPE = 'application/vnd.ipld.car'

/**
 * A CARv1 of the DAGs under `roots`: the header, then every block once, depth
 * first and left to right (a file's leaves in file order), as `ipfs dag
 * export` and the trustless gateway write them. `get` gives a verified
 * block, waiting for it if need be; the writer waits for the reader, so at
 * most one block is held.
 */
export async function * carOf (roots: CID[], get: (cid: CID) => Promise<Uint8Array>, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
  yield * carOfDag(roots, [], roots, get, options)
}

/**
 * A CAR with `roots` in its header holding the `lead` blocks (those from a
 * root down to a path's target), then the whole DAG under each of `dags`,
 * depth first, every block once.
 */
export async function * carOfDag (roots: CID[], lead: CID[], dags: CID[], get: (cid: CID) => Promise<Uint8Array>, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
  const seen = new Set<string>()
  // the walk loads each interior node (to find its children) and hands its bytes on
  const steps = async function * (): AsyncGenerator<{ cid: CID, bytes?: Uint8Array }> {
    for (const cid of lead) yield { cid }
    yield * walkDag(dags, get, { skip: cid => seen.has(blockKey(cid)) })
  }
  yield * carOfBlocks(roots, steps(), get, { ...options, seen })
}

/**
 * A CARv1 with `roots` in its header and the blocks `steps` names, each once,
 * in that order (`bytes` when the step has them, else from `get`): a part of
 * a DAG (a path, one block, a file's byte range). A reader that stops early
 * lets the writer end: nothing waits on an abandoned CAR.
 */
export async function * carOfBlocks (roots: CID[], steps: Iterable<{ cid: CID, bytes?: Uint8Array }> | AsyncIterable<{ cid: CID, bytes?: Uint8Array }>, get: (cid: CID) => Promise<Uint8Array>, options: AbortOptions & { seen?: Set<string> } = {}): AsyncGenerator<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const seen = options.seen ?? new Set<string>()
  let abandoned = false
  const writing = (async () => {
    try {
      for await (const step of steps) {
        options.signal?.throwIfAborted()
        if (abandoned) return
        const key = blockKey(step.cid)
        if (seen.has(key)) continue
        seen.add(key)
        await writer.put({ cid: step.cid, bytes: step.bytes ?? await get(step.cid) })
      }
    } finally {
      await writer.close()
    }
  })()
  // the writer's failure is thrown to the reader, after what was written before it
  writing.catch(() => {})
  let read = false
  try {
    for await (const chunk of out) yield chunk
    read = true
  } finally {
    if (!read) {
      // the reader left: let the writer's pending put go through, and stop it
      abandoned = true
      void (async () => { for await (const _ of out) { /* discarded */ } })().catch(() => {})
    }
  }
  await writing
}

/** What `readCar` found in a CAR. */
export interface CarContents {
  roots: CID[]
  /** Every block, in the CAR's order, each checked against its CID. */
  blocks: AsyncIterable<VerifiedBlock>
}

/**
 * Read a CAR (v1) from a stream of bytes: its roots, then its blocks, each
 * hashed against its CID before it is handed on (`BlockVerificationError`
 * on a mismatch, `UnsupportedHashError` for a hash Shoal cannot check). A
 * block larger than `maxBlockSize` is refused: the block protocol could not carry it.
 */
export async function readCar (bytes: AsyncIterable<Uint8Array>, maxBlockSize = MAX_CHUNK_SIZE): Promise<CarContents> {
  let iterator: CarBlockIterator
  try {
    iterator = await CarBlockIterator.fromIterable(bytes)
  } catch (err: any) {
    throw new InputError(`not a CAR file: ${String(err?.message ?? err)}`)
  }
  const roots = await iterator.getRoots()
  return {
    roots,
    blocks: (async function * () {
      const blocks = iterator[Symbol.asyncIterator]()
      while (true) {
        let next
        try {
          next = await blocks.next()
        } catch (err: any) {
          throw new InputError(`malformed CAR: ${String(err?.message ?? err)}`)
        }
        if (next.done === true) return
        const { cid, bytes } = next.value
        if (bytes.byteLength > maxBlockSize) throw new InputError(`block ${cid.toString()} is ${bytes.byteLength} bytes, over the ${maxBlockSize}-byte limit of a block`)
        yield verifyBlock(cid, bytes)
      }
    })()
  }
}
