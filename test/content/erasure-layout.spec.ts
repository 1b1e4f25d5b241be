import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { decodeStripe, stripeCount } from '../../src/content/erasure.js'
import { decodeLayout, encodeLayout, encodeParity, interiorOf, leavesOf } from '../../src/content/erasure-layout.js'
import { importerOptions } from '../../src/content/profile.js'
import type { CID } from 'multiformats/cid'

async function bytesOf (store: MemoryBlockstore, cid: CID): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const part of store.get(cid)) parts.push(part)
  return Buffer.concat(parts)
}

async function add (store: MemoryBlockstore, bytes: Uint8Array, chunkSize: number): Promise<CID> {
  let root: CID | undefined
  for await (const entry of importer([{ content: [bytes] }], store, { ...importerOptions(), chunker: fixedSize({ chunkSize }) })) root = entry.cid
  return root!
}

describe('content: erasure layout', () => {
  it('codes a file\'s leaves into parity columns that, with any K fragments of each stripe, give back every leaf', async () => {
    const store = new MemoryBlockstore()
    const load = async (cid: CID): Promise<Uint8Array> => await bytesOf(store, cid)
    // 4 KiB chunks and a tail: 23 leaves, so 6 stripes of 4 (the last of 3, the last leaf short); 2 levels of nodes with width 4
    const file = new Uint8Array(randomBytes(22 * 4096 + 1000))
    let root: CID | undefined
    for await (const entry of importer([{ content: [file] }], store, { ...importerOptions(), chunker: fixedSize({ chunkSize: 4096 }), layout: (await import('ipfs-unixfs-importer/layout')).balanced({ maxChildrenPerNode: 4 }) })) root = entry.cid
    const scheme = { k: 4, m: 2 }
    const layout = await encodeParity(root!, scheme, { get: load, put: async (cid, bytes) => { await store.put(cid, bytes); return cid } })
    const leaves = await leavesOf(root!, load)
    assert.equal(leaves.length, 23)
    assert.equal(leaves[22].length, 1000)
    assert.equal(layout.leaves, 23)
    assert.ok((await interiorOf(root!, load)).length > 1)
    // a parity column is a file of one leaf per stripe, each as long as its stripe's longest leaf
    const columns = await Promise.all(layout.parity.map(async p => await leavesOf(p, load)))
    for (const column of columns) assert.deepEqual(column.map(l => l.length), [4096, 4096, 4096, 4096, 4096, 4096])
    // lose leaves 0 and 1 of every stripe: parity gives them back, byte for byte
    const lengths = leaves.map(l => l.length)
    const rebuilt: Uint8Array[] = []
    for (let s = 0; s < stripeCount(leaves.length, scheme); s++) {
      const data = await Promise.all(leaves.slice(s * 4, s * 4 + 4).map(async (l, i) => i < 2 ? undefined : await load(l.cid)))
      while (data.length < 4) data.push(undefined)
      const parity = await Promise.all(columns.map(async c => await load(c[s].cid)))
      rebuilt.push(...decodeStripe([...data, ...parity], lengths.slice(s * 4, s * 4 + 4), scheme))
    }
    assert.deepEqual(Buffer.concat(rebuilt), Buffer.from(file))
  })

  it('the same file and scheme give the same layout, wherever it is coded; the layout block round-trips', async () => {
    const file = new Uint8Array(randomBytes(9 * 2048))
    const layouts = await Promise.all([0, 1].map(async () => {
      const store = new MemoryBlockstore()
      const root = await add(store, file, 2048)
      const layout = await encodeParity(root, { k: 3, m: 3 }, { get: async cid => await bytesOf(store, cid), put: async (cid, bytes) => { await store.put(cid, bytes); return cid } })
      return await encodeLayout(layout)
    }))
    assert.equal(layouts[0].cid.toString(), layouts[1].cid.toString())
    const back = decodeLayout(layouts[0].bytes)
    assert.deepEqual({ k: back.k, m: back.m, leaves: back.leaves, parity: back.parity.length }, { k: 3, m: 3, leaves: 9, parity: 3 })
  })

  it('a malformed or oversized layout from a peer is an ErasureError, never a crash', () => {
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
    const good = { v: 1, root: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', erasure: '2+1', leaves: 4, parity: ['bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'] }
    assert.equal(decodeLayout(enc(good)).k, 2)
    for (const bad of [
      new TextEncoder().encode('{not json'),
      enc({ ...good, v: 2 }),
      enc({ ...good, erasure: '0+1' }),
      enc({ ...good, erasure: '200+100' }),
      enc({ ...good, leaves: -1 }),
      enc({ ...good, leaves: 1e12 }),
      enc({ ...good, parity: [] }),
      enc({ ...good, parity: ['not a cid'] }),
      enc({ ...good, root: 42 }),
      enc({ ...good, pad: 'x'.repeat(20000) })
    ]) {
      assert.throws(() => decodeLayout(bad), { name: 'ErasureError' })
    }
  })
})
