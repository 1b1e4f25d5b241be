import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { byDistance } from '../../src/replication/keyspace.js'
import { PeerLiveness } from '../../src/replication/peer-liveness.js'
import { RootView } from '../../src/replication/root-view.js'
import type { PeerId } from '@libp2p/interface'

async function peers (n: number): Promise<PeerId[]> {
  return await Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
}

describe('replication: the per-root rule', () => {
  let root: CID
  let ps: PeerId[]

  before(async () => {
    root = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('a root')))
    ps = byDistance(root, (await peers(5)).map(peer => ({ peer }))).map(p => p.peer) // ps[0] is closest
  })

  it('counts live copies, and copies down for less than the grace period', () => {
    const view = new RootView(root, { min: 3, max: 3, size: 1 })
    for (const p of ps.slice(0, 3)) view.set(p, 'complete')
    const liveness = new PeerLiveness()
    liveness.failed(ps[1].toString(), 1_000)
    let a = view.assess(liveness, 5_000, 3_000)
    assert.equal(a.counted, 3, 'down 2 s of a 5 s grace period: still counted')
    assert.equal(a.health, 'under-replicated')
    assert.deepEqual(a.absent, [ps[1]])
    a = view.assess(liveness, 5_000, 7_000)
    assert.equal(a.counted, 2, 'past the grace period it no longer counts')
    assert.deepEqual(a.gone, [ps[1]])
  })

  it('names the live complete holder closest to the root as leader', () => {
    const view = new RootView(root, { min: 2, max: 2, size: 1 })
    view.set(ps[0], 'fetching')
    view.set(ps[2], 'complete')
    view.set(ps[3], 'complete')
    const liveness = new PeerLiveness()
    assert.ok(view.assess(liveness, 1_000).leader?.equals(ps[2]), 'a fetching holder does not lead while a complete one lives')
    liveness.failed(ps[2].toString())
    assert.ok(view.assess(liveness, 1_000).leader?.equals(ps[3]))
  })

  it('reports repairing while a new copy downloads, and lost with no live holder', () => {
    const view = new RootView(root, { min: 2, max: 2, size: 1 })
    view.set(ps[0], 'complete')
    view.set(ps[1], 'fetching')
    const liveness = new PeerLiveness()
    assert.equal(view.assess(liveness, 1_000).health, 'repairing')
    view.set(ps[1], 'complete')
    assert.equal(view.assess(liveness, 1_000).health, 'ok')
    liveness.failed(ps[0].toString())
    liveness.left(ps[1].toString())
    assert.equal(view.assess(liveness, 1_000).health, 'lost')
  })

  it('trims the copies farthest from the root, never the one asking', () => {
    const view = new RootView(root, { min: 2, max: 3, size: 1 })
    for (const p of ps) view.set(p, 'complete')
    const a = view.assess(new PeerLiveness(), 1_000)
    assert.deepEqual(view.surplus(a, ps[0]), [ps[4], ps[3]])
    assert.deepEqual(view.surplus(a, ps[4]), [ps[3], ps[2]], 'the keeper is skipped: the next farthest go')
  })
})
