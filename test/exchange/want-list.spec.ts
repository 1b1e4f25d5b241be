import assert from 'node:assert/strict'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { PeerState } from '../../src/exchange/peer-state.js'
import { pickBlocks } from '../../src/exchange/piece-picker.js'
import { WantList } from '../../src/exchange/want-list.js'

async function cid (n: number, codec = raw.code): Promise<CID> {
  return CID.createV1(codec, await sha256.digest(new Uint8Array([n, n >> 8])))
}

function peer (name: string, window = 4): PeerState {
  return new PeerState({ toString: () => name } as any, {} as any, { initial: window, min: 1, max: 64 })
}

describe('exchange: want list and piece picking', () => {
  it('puts interior nodes before leaves, and given-back blocks first', async () => {
    const w = new WantList()
    const leafA = await cid(1)
    const leafB = await cid(2)
    const inner = await cid(3, dagPb.code)
    w.add(leafA)
    w.add(leafB)
    w.add(inner)
    assert.deepEqual([...w.pending()].map(String), [inner, leafA, leafB].map(String))
    w.requested(leafB, 'p1')
    w.withdrawn(leafB, 'p1')
    assert.deepEqual([...w.pending()].map(String), [leafB, inner, leafA].map(String))
  })

  it('tracks a block from pending through in flight and writing to stored', async () => {
    const w = new WantList()
    const c = await cid(1)
    w.add(c)
    w.add(c)
    assert.equal(w.knownCount, 1, 'adding twice counts once')
    w.requested(c, 'p1')
    w.requested(c, 'p2')
    assert.equal(w.pendingCount, 0)
    assert.equal(w.inFlightCount, 1)
    w.withdrawn(c, 'p1')
    assert.equal(w.pendingCount, 0, 'still asked of p2')
    assert.deepEqual(w.received(c), new Set(['p2']))
    assert.equal(w.received(c), undefined, 'a second copy is not wanted')
    assert.equal(w.isComplete(), false, 'not complete while writing')
    w.stored(c)
    assert.equal(w.isComplete(), true)
  })

  it('a failed write makes the block pending again', async () => {
    const w = new WantList()
    const c = await cid(9)
    w.add(c)
    w.requested(c, 'p')
    w.received(c)
    w.writeFailed(c)
    assert.equal(w.pendingCount, 1)
  })

  it('picks up to the window, skipping what the peer lacks', async () => {
    const w = new WantList()
    const cids = await Promise.all([1, 2, 3, 4, 5, 6].map(async n => await cid(n)))
    cids.forEach(c => { w.add(c) })
    const p = peer('p', 3)
    p.received(1024) // small blocks: the initial count, not its byte bound, is the window
    p.lacks.add(cids[0].toString())
    assert.deepEqual(pickBlocks({ wants: w, peer: p, max: p.room }).map(String), cids.slice(1, 4).map(String))
    assert.deepEqual(pickBlocks({ wants: w, peer: p, max: 0 }), [])
  })
})
