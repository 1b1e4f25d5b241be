import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'

/**
 * A from-the-spec computation of a file's root CID under the
 * unixfs-v1-2025 profile (CIDv1, sha2-256, raw leaves, fixed-size chunks,
 * balanced layout of up to `width` links per node), written with only the
 * dag-pb and UnixFS data-format codecs — no importer — so that tests can
 * check Shoal's importer against an independent derivation.
 */
export function referenceRootCID (bytes: Uint8Array, chunkSize: number, width = 1024): CID {
  interface Node { cid: CID, fileSize: number, tsize: number, leaf: boolean }
  const sha = (b: Uint8Array): CID['multihash'] => createDigest(0x12, createHash('sha256').update(b).digest())

  let level: Node[] = []
  for (let off = 0; off < Math.max(bytes.length, 1); off += chunkSize) {
    const chunk = bytes.subarray(off, off + chunkSize)
    level.push({ cid: CID.createV1(raw.code, sha(chunk)), fileSize: chunk.length, tsize: chunk.length, leaf: true })
  }

  const parent = (children: Node[]): Node => {
    // a group of one raw leaf is that leaf
    if (children.length === 1 && children[0].leaf) return children[0]
    const data = new UnixFS({ type: 'file', blockSizes: children.map(c => BigInt(c.fileSize)) })
    const block = dagPb.encode(dagPb.prepare({
      Data: data.marshal(),
      Links: children.map(c => ({ Hash: c.cid, Name: '', Tsize: c.tsize }))
    }))
    return {
      cid: CID.createV1(dagPb.code, sha(block)),
      fileSize: children.reduce((n, c) => n + c.fileSize, 0),
      tsize: block.length + children.reduce((n, c) => n + c.tsize, 0),
      leaf: false
    }
  }

  do {
    const next: Node[] = []
    for (let i = 0; i < level.length; i += width) next.push(parent(level.slice(i, i + width)))
    level = next
  } while (level.length > 1)
  return level[0].cid
}
