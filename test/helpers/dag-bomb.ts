import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import * as dagPb from '@ipld/dag-pb'
import { CarWriter } from '@ipld/car'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'

export interface DagBomb {
  root: CID
  /** Every block, root first. */
  blocks: Array<{ cid: CID, bytes: Uint8Array }>
  /** The file size the root declares. */
  declared: number
}

const sha = (b: Uint8Array): CID['multihash'] => createDigest(0x12, createHash('sha256').update(b).digest())

/**
 * A valid UnixFS file of a few blocks that a reader following every link
 * meets `fanout^levels` times: a 1-byte leaf, and `levels` interior nodes,
 * each linking `fanout` times to the one below. Every block verifies; only
 * its shape is hostile. `declare`: a file size for the root to claim instead
 * of the true one (a liar's small number, in its UnixFS sizes and its links'
 * Tsize alike).
 */
export function dagBomb (levels = 4, fanout = 1000, declare?: number): DagBomb {
  const leafBytes = Uint8Array.of(0x61)
  let child: { cid: CID, size: number, tsize: number } = { cid: CID.createV1(raw.code, sha(leafBytes)), size: 1, tsize: 1 }
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = [{ cid: child.cid, bytes: leafBytes }]
  for (let level = 1; level <= levels; level++) {
    const top = level === levels && declare != null
    const childSize = top ? Math.max(1, Math.floor(declare / fanout)) : child.size
    const data = new UnixFS({ type: 'file', blockSizes: new Array(fanout).fill(BigInt(childSize)) })
    // a liar lies in both sizes dag-pb and UnixFS give
    const tsize = top ? childSize : child.tsize
    const bytes = dagPb.encode(dagPb.prepare({ Data: data.marshal(), Links: new Array(fanout).fill(0).map(() => ({ Hash: child.cid, Name: '', Tsize: tsize })) }))
    child = { cid: CID.createV1(dagPb.code, sha(bytes)), size: childSize * fanout, tsize: bytes.byteLength + fanout * tsize }
    blocks.unshift({ cid: child.cid, bytes })
  }
  return { root: child.cid, blocks, declared: child.size }
}

/** Write the bomb as a CARv1 file (root first). */
export async function writeCar (file: string, bomb: DagBomb): Promise<void> {
  const { writer, out } = CarWriter.create([bomb.root])
  const chunks: Uint8Array[] = []
  const collecting = (async () => { for await (const c of out) chunks.push(c) })()
  for (const b of bomb.blocks) await writer.put(b)
  await writer.close()
  await collecting
  await fs.writeFile(file, Buffer.concat(chunks))
}
