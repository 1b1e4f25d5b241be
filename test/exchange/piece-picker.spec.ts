import assert from 'node:assert/strict'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { Availability } from '../../src/exchange/availability.js'
import { Bitfield } from '../../src/exchange/bitfield.js'
import { PeerState } from '../../src/exchange/peer-state.js'
import { pickBlocks, pickEndgame } from '../../src/exchange/piece-picker.js'
import { WantList } from '../../src/exchange/want-list.js'
import type { LeafIndex } from '../../src/exchange/leaf-index.js'
import type { PeerHoldings } from '../../src/exchange/piece-picker.js'

async function leaf (n: number): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new Uint8Array([n, n >> 8, 7])))
}

function peer (name: string): PeerState {
  return new PeerState({ toString: () => name } as any, {} as any, { initial: 4, min: 1, max: 64 })
}

function indexOf (leaves: CID[]): LeafIndex {
  const indicesOfKey = (key: string): number[] => { const i = leaves.findIndex(l => l.toString() === key); return i < 0 ? [] : [i] }
  return { size: leaves.length, leaves, indicesOfKey, indicesOf: (c: CID) => indicesOfKey(c.toString()) } as any
}

function holding (bits: number[], size: number): PeerHoldings {
  const bf = new Bitfield(size)
  bits.forEach(i => bf.set(i))
  return { complete: false, heard: true, bitfield: bf, hasLeaf: i => bf.has(i) }
}

describe('exchange: bitfield and availability', () => {
  it('packs bits most significant first and ignores spare bits', () => {
    const bf = new Bitfield(10)
    assert.equal(bf.set(0), true)
    assert.equal(bf.set(9), true)
    assert.equal(bf.set(9), false)
    assert.equal(bf.set(10), false)
    assert.deepEqual([...bf.toBytes()], [0x80, 0x40])
    const back = new Bitfield(10, Uint8Array.from([0x80, 0x7f]))
    assert.equal(back.count, 2, 'bits past the end are cleared')
    assert.throws(() => new Bitfield(10, new Uint8Array(3)), RangeError)
  })

  it('counts holders per leaf, complete peers for every leaf', () => {
    const a = new Availability(4)
    const bf = new Bitfield(4)
    bf.set(1)
    a.setPeer('p', false, bf)
    a.setPeer('seed', true)
    assert.deepEqual([0, 1, 2, 3].map(i => a.of(i)), [1, 2, 1, 1])
    bf.set(3)
    a.addHaves('p', [3])
    assert.equal(a.of(3), 2)
    a.removePeer('p')
    assert.deepEqual([0, 1, 2, 3].map(i => a.of(i)), [1, 1, 1, 1])
    a.setPeer('wrong-size', false, new Bitfield(7))
    assert.equal(a.of(0), 1, 'a bitfield of another size is not counted')
  })
})

describe('exchange: piece picking', () => {
  it('picks the rarest leaves the peer holds first, interior nodes before all', async () => {
    const leaves = await Promise.all([0, 1, 2, 3, 4, 5].map(leaf))
    const interior = CID.createV1(dagPb.code, await sha256.digest(new Uint8Array([99])))
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    wants.add(interior)
    const availability = new Availability(6)
    availability.setPeer('x', false, (holding([0, 1, 2, 3], 6) as any).bitfield)
    availability.setPeer('y', false, (holding([0, 1], 6) as any).bitfield)
    // availability: leaves 0,1 → 2; 2,3 → 1; 4,5 → 0
    const p = peer('p')
    const picked = pickBlocks({ wants, peer: p, holdings: holding([0, 1, 2, 4], 6), index: indexOf(leaves), availability, tiebreak: new Uint32Array(6), max: 3 })
    assert.deepEqual(picked.map(String), [interior, leaves[4], leaves[2]].map(String))
  })

  it('breaks ties between equally rare leaves by the random rank', async () => {
    const leaves = await Promise.all([0, 1, 2, 3].map(leaf))
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    const picked = pickBlocks({ wants, peer: peer('p'), index: indexOf(leaves), availability: new Availability(4), tiebreak: Uint32Array.from([30, 10, 40, 20]), max: 4 })
    assert.deepEqual(picked.map(String), [1, 3, 0, 2].map(i => leaves[i].toString()))
  })

  it('picks the same leaves, in the same order, as a stable sort of every candidate would', async () => {
    const n = 40
    const leaves = await Promise.all(Array.from({ length: n }, (_, i) => leaf(i)))
    const wants = new WantList()
    // want-list order differs from file order; ranks and ties repeat, so order among equals matters
    for (let i = 0; i < n; i++) wants.add(leaves[(i * 7) % n])
    const availability = new Availability(n)
    availability.setPeer('x', false, (holding(Array.from({ length: n }, (_, i) => i).filter(i => i % 3 === 0), n) as any).bitfield)
    const tiebreak = Uint32Array.from({ length: n }, (_, i) => i % 4)
    const expected = [...wants.pending()]
      .map((cid, order) => { const i = leaves.findIndex(l => l.equals(cid)); return { cid, rank: availability.of(i), tie: tiebreak[i], order } })
      .sort((a, b) => a.rank - b.rank || a.tie - b.tie || a.order - b.order)
      .map(c => c.cid.toString())
    for (const max of [1, 3, 8, n, n + 5]) {
      const picked = pickBlocks({ wants, peer: peer('p'), index: indexOf(leaves), availability, tiebreak, max })
      assert.deepEqual(picked.map(String), expected.slice(0, max), `max ${max}`)
    }
  })

  it('sequential mode takes leaves in file order within the window', async () => {
    const leaves = await Promise.all([0, 1, 2, 3, 4, 5].map(leaf))
    const wants = new WantList()
    for (const i of [5, 3, 1, 2]) wants.add(leaves[i])
    const picked = pickBlocks({ wants, peer: peer('p'), index: indexOf(leaves), sequential: { frontier: 1, window: 3 }, max: 10 })
    assert.deepEqual(picked.map(String), [1, 2, 3].map(i => leaves[i].toString()))
  })

  it('asks a peer that said nothing only for what a complete holder would have', async () => {
    const leaves = await Promise.all([0, 1].map(leaf))
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    const empty: PeerHoldings = { complete: false, heard: true, hasLeaf: () => undefined }
    assert.deepEqual(pickBlocks({ wants, peer: peer('p'), holdings: empty, index: indexOf(leaves), max: 5 }), [])
    const seed: PeerHoldings = { complete: true, heard: true, hasLeaf: () => true }
    assert.equal(pickBlocks({ wants, peer: peer('p'), holdings: seed, index: indexOf(leaves), max: 5 }).length, 2)
  })

  it('endgame duplicates in-flight blocks asked of the fewest peers, never twice to one peer', async () => {
    const leaves = await Promise.all([0, 1, 2].map(leaf))
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    wants.requested(leaves[0], 'a')
    wants.requested(leaves[0], 'b')
    wants.requested(leaves[1], 'a')
    wants.requested(leaves[2], 'p')
    const picked = pickEndgame(wants.inFlightEntries(), { peer: peer('p'), index: indexOf(leaves), max: 5 }, 2)
    assert.deepEqual(picked.map(String), [leaves[1].toString()], 'leaf 0 is asked of two already; leaf 2 of p itself')
  })

  it('endgame duplicates the most recently asked first: they wait at the back of another peer\'s queue', async () => {
    const leaves = await Promise.all([0, 1, 2, 3].map(leaf))
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    const t = Date.now()
    leaves.forEach((l, i) => { wants.requested(l, 'slow', t + i * 100) })
    const picked = pickEndgame(wants.inFlightEntries(), { peer: peer('p'), index: indexOf(leaves), max: 2 }, 2)
    assert.deepEqual(picked.map(String), [leaves[3], leaves[2]].map(String))
  })
})

describe('exchange: peer request window', () => {
  it('starts at the initial window and follows rate × (RTT + queue time) within bounds', () => {
    const fast = new PeerState({ toString: () => 'p' } as any, {} as any, { initial: 4, min: 2, max: 16 }, () => 100)
    assert.equal(fast.window, 2, 'before any block, 2 MiB of the 1 MiB leaves unixfs-v1-2025 cuts')
    const t0 = 1_000_000
    const small = new PeerState({ toString: () => 'q' } as any, {} as any, { initial: 4, min: 2, max: 16 }, () => 100)
    small.received(256 << 10, t0)
    assert.equal(small.window, 4, 'with 256 KiB blocks the initial count is the bound')
    // 1 MiB blocks every 10 ms: ≈ 100 MiB/s × 0.4 s ≈ 40 blocks, capped at 16
    for (let i = 0; i < 50; i++) fast.received(1 << 20, t0 + i * 10)
    assert.equal(fast.window, 16)
    const medium = new PeerState({ toString: () => 'm' } as any, {} as any, { initial: 4, min: 2, max: 16 }, () => 100)
    // 1 MiB every 50 ms: 20 MiB/s × 0.4 s = 8 blocks + 1
    for (let i = 0; i < 30; i++) medium.received(1 << 20, t0 + i * 50)
    assert.equal(medium.window, 9)
    const slow = new PeerState({ toString: () => 's' } as any, {} as any, { initial: 4, min: 2, max: 16 })
    for (let i = 0; i < 5; i++) slow.received(1 << 20, t0 + i * 1000)
    assert.equal(slow.window, 2, 'a slow peer gets a short queue')
    const burst = new PeerState({ toString: () => 'b' } as any, {} as any, { initial: 4, min: 2, max: 16 })
    burst.received(1 << 20, t0)
    burst.received(1 << 20, t0 + 1)
    assert.equal(burst.window, 2, 'two blocks at once are not a rate of 1 GiB/s')
    const young = new PeerState({ toString: () => 'y' } as any, {} as any, { initial: 8, min: 2, max: 64 }, () => 1)
    // three 256 KiB blocks a millisecond apart: over a one-second span that is 0.5 MB/s, a two-block window
    for (let i = 0; i < 3; i++) young.received(256 << 10, t0 + i)
    assert.equal(young.window, 8, 'a rate measured over less than a span never narrows the initial window')
    const rooted = new PeerState({ toString: () => 'r' } as any, {} as any, { initial: 8, min: 2, max: 64 }, () => 1)
    rooted.received(1209, t0, false)
    assert.equal(rooted.window, 2, 'a small root first says nothing of the size of the leaves: still 2 MiB of 1 MiB leaves')
  })
})
