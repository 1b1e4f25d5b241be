import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { byDistance } from '../../src/replication/keyspace.js'
import { repairAt } from '../../src/replication/leadership.js'
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

  it('counts live copies, and copies down for less than the grace period or missing too few probes', () => {
    const view = new RootView(root, { min: 3, max: 3, size: 1 })
    for (const p of ps.slice(0, 3)) view.set(p, 'complete')
    const liveness = new PeerLiveness()
    liveness.failed(ps[1].toString(), 1_000)
    let a = view.assess(liveness, 5_000, 3_000)
    assert.equal(a.counted, 3, 'down 2 s of a 5 s grace period: still counted')
    assert.equal(a.health, 'under-replicated')
    assert.deepEqual(a.absent, [ps[1]])
    a = view.assess(liveness, 5_000, 7_000)
    assert.equal(a.counted, 3, 'one missed probe is not enough, however long it took')
    liveness.failed(ps[1].toString(), 6_000)
    a = view.assess(liveness, 5_000, 7_000)
    assert.equal(a.counted, 2, 'past the grace period and two missed probes it no longer counts')
    assert.deepEqual(a.gone, [ps[1]])
    liveness.seen(ps[1].toString(), 8_000)
    assert.equal(view.assess(liveness, 5_000, 9_000).counted, 3, 'an answer makes it count again')
  })

  it('a holder another holder vouches for keeps counting as absent, however long we cannot reach it', () => {
    const view = new RootView(root, { min: 2, max: 2, size: 1 })
    view.set(ps[0], 'complete')
    view.set(ps[1], 'complete')
    const liveness = new PeerLiveness()
    liveness.failed(ps[1].toString(), 0)
    liveness.failed(ps[1].toString(), 1)
    assert.deepEqual(view.assess(liveness, 1_000, 5_000).gone, [ps[1]])
    liveness.vouched(ps[1].toString())
    const a = view.assess(liveness, 1_000, 5_000)
    assert.deepEqual(a.absent, [ps[1]], 'counted, but not answering us: never released, never leading')
    assert.equal(a.counted, 2)
    liveness.failed(ps[1].toString(), 6_000)
    liveness.failed(ps[1].toString(), 7_000)
    assert.deepEqual(view.assess(liveness, 1_000, 8_000).gone, [ps[1]], 'once nobody vouches, two more missed probes and it is gone')
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

  it('the leader places copies while fewer than K count, not before the view has settled', () => {
    const view = new RootView(root, { min: 3, max: 3, size: 1 })
    view.set(ps[0], 'complete')
    view.set(ps[1], 'fetching')
    const liveness = new PeerLiveness()
    view.settledAt = 2_000
    assert.deepEqual(view.duties(view.assess(liveness, 1_000, 1_000), ps[0], 1_000, 1_000), { place: 0, release: [] })
    assert.equal(view.duties(view.assess(liveness, 1_000, 2_000), ps[0], 1_000, 2_000).place, 1)
  })

  it('places no copies beyond max + K holders known, however many are silent', () => {
    const view = new RootView(root, { min: 2, max: 2, size: 1 })
    const liveness = new PeerLiveness()
    view.set(ps[0], 'complete')
    for (const p of ps.slice(1, 4)) {
      view.set(p, 'fetching')
      liveness.failed(p.toString(), 0)
      liveness.failed(p.toString(), 1)
    }
    // 4 known, 3 of them gone: 1 counts, 1 short, and room for 0 more
    assert.equal(view.duties(view.assess(liveness, 1_000, 5_000), ps[0], 1_000, 5_000).place, 0)
    view.remove(ps[3])
    assert.equal(view.duties(view.assess(liveness, 1_000, 5_000), ps[0], 1_000, 5_000).place, 1)
  })

  it('releases the complete copies beyond max, farthest first, once the surplus lasted a grace period; never the leader', () => {
    const view = new RootView(root, { min: 2, max: 3, size: 1 })
    for (const p of ps) view.set(p, 'complete')
    const liveness = new PeerLiveness()
    const duties = (now: number, self = ps[0]): ReturnType<RootView['duties']> => view.duties(view.assess(liveness, 1_000, now), self, 1_000, now)
    assert.deepEqual(duties(0).release, [], 'the surplus has just appeared')
    assert.deepEqual(duties(999).release, [])
    assert.deepEqual(duties(1_000).release, [ps[4], ps[3]], 'both at once, farthest first')
    assert.deepEqual(duties(1_000, ps[4]).release, [ps[3], ps[2]], 'the leader itself is skipped: the next farthest go')
  })

  it('a holder that does not answer never holds a trim back, and is never counted towards what stays', () => {
    const view = new RootView(root, { min: 3, max: 3, size: 1 })
    for (const p of ps) view.set(p, 'complete')
    const liveness = new PeerLiveness()
    liveness.failed(ps[1].toString(), 0)
    view.duties(view.assess(liveness, 10_000, 0), ps[0], 10_000, 0)
    const d = view.duties(view.assess(liveness, 10_000, 10_000), ps[0], 10_000, 10_000)
    assert.deepEqual(d.release, [ps[4]], '4 answering complete copies, max 3: one goes, though ps[1] is absent')
    assert.ok(!d.release.some(p => p.equals(ps[1])), 'the silent one is not released (it may be the one that is dead)')
  })

  it('a holder silent for a moment does not start the surplus\'s wait again', () => {
    const view = new RootView(root, { min: 2, max: 2, size: 1 })
    for (const p of ps.slice(0, 3)) view.set(p, 'complete')
    const liveness = new PeerLiveness()
    const at = (now: number): ReturnType<RootView['duties']> => view.duties(view.assess(liveness, 1_000, now), ps[0], 1_000, now)
    assert.deepEqual(at(0).release, [])
    liveness.failed(ps[2].toString(), 500)
    assert.deepEqual(at(600).release, [], 'the farthest is silent: nothing to release yet')
    liveness.seen(ps[2].toString(), 900)
    assert.deepEqual(at(1_000).release, [ps[2]], 'it answers again, a grace period after the surplus began: released')
  })

  it('releases copies still downloading once max complete copies answer', () => {
    const view = new RootView(root, { min: 2, max: 2, size: 1 })
    view.set(ps[0], 'complete')
    view.set(ps[1], 'complete')
    view.set(ps[2], 'fetching')
    const liveness = new PeerLiveness()
    view.duties(view.assess(liveness, 1_000, 0), ps[0], 1_000, 0)
    assert.deepEqual(view.duties(view.assess(liveness, 1_000, 1_000), ps[0], 1_000, 1_000).release, [ps[2]])
    view.remove(ps[2])
    assert.deepEqual(view.duties(view.assess(liveness, 1_000, 2_000), ps[0], 1_000, 2_000).release, [], 'exactly max: nothing to do')
  })

  it('adopts only a newer intent', () => {
    const view = new RootView(root, { min: 3, max: 3, size: 1, intentSince: 10 })
    assert.equal(view.adopt({ min: 1, max: 1, size: 1, intentSince: 5 }), false)
    assert.equal(view.min, 3)
    assert.equal(view.adopt({ min: 2, max: 4, size: 1, intentSince: 20 }), true)
    assert.deepEqual([view.min, view.max, view.intentSince], [2, 4, 20])
  })
})

describe('replication: the per-root rule of an erasure-coded root', () => {
  let root: CID
  let layout: CID
  let ps: PeerId[]

  before(async () => {
    root = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('a coded root')))
    layout = CID.createV1(0x0200, await sha256.digest(new TextEncoder().encode('its layout')))
    ps = byDistance(root, (await peers(8)).map(peer => ({ peer }))).map(p => p.peer)
  })

  /** A 4+2 root with fragment i on ps[i]. */
  function coded (): RootView {
    const view = new RootView(root, { min: 6, max: 6, size: 1 }, { k: 4, m: 2, layout })
    for (let i = 0; i < 6; i++) view.set(ps[i], 'complete', undefined, i)
    return view
  }

  it('counts distinct fragments, not holders; lost once fewer than K fragments are kept', () => {
    const view = coded()
    const liveness = new PeerLiveness()
    let a = view.assess(liveness, 5_000, 0)
    assert.deepEqual([a.counted, a.health, a.missing], [6, 'ok', []])
    // a second holder of fragment 2 adds nothing
    view.set(ps[6], 'complete', undefined, 2)
    assert.equal(view.assess(liveness, 5_000, 0).counted, 6)
    // three holders gone past the grace period: 3 of 4 needed fragments left
    for (const p of [ps[0], ps[1], ps[3]]) { liveness.failed(p.toString(), 0); liveness.failed(p.toString(), 1) }
    a = view.assess(liveness, 1_000, 10_000)
    assert.deepEqual([a.counted, a.missing, a.health], [3, [0, 1, 3], 'lost'])
    // a holder whose fragment we do not know neither counts nor leads
    const unknown = new RootView(root, { min: 6, max: 6, size: 1 }, { k: 4, m: 2, layout })
    unknown.set(ps[0], 'complete')
    a = unknown.assess(new PeerLiveness(), 5_000, 0)
    assert.deepEqual([a.counted, a.leader], [0, undefined])
  })

  it('the leader rebuilds every missing fragment once the fragments counted are at or below the repair threshold (lazy repair)', () => {
    assert.deepEqual([repairAt(4, 2), repairAt(10, 4), repairAt(3, 1), repairAt(10, 4, 0)], [5, 12, 3, 13])
    const view = coded()
    const liveness = new PeerLiveness()
    for (const p of [ps[4]]) { liveness.failed(p.toString(), 0); liveness.failed(p.toString(), 1) }
    const a = view.assess(liveness, 1_000, 10_000)
    assert.deepEqual(view.fragmentDuties(a, ps[0], repairAt(4, 2), 1_000, 10_000), { place: 1, fragments: [4], release: [] })
    // 10+4 bears one lost fragment: threshold 12 of 14
    assert.equal(view.fragmentDuties(a, ps[0], 4, 1_000, 10_000).place, 0, 'above the threshold nothing is placed')
  })

  it('a fragment held twice (its holder came back after it was rebuilt, or a hand-over under way) is trimmed to the holder closest to the root once that lasted a grace period', () => {
    const view = coded()
    view.set(ps[7], 'complete', undefined, 3)
    view.set(ps[6], 'fetching', undefined, 5)
    const liveness = new PeerLiveness()
    const a = view.assess(liveness, 1_000, 0)
    // not at once: ps[6] may be taking fragment 5 over from a holder that is leaving
    assert.deepEqual(view.fragmentDuties(a, ps[0], repairAt(4, 2), 1_000, 0).release, [])
    const later = view.fragmentDuties(view.assess(liveness, 1_000, 2_000), ps[0], repairAt(4, 2), 1_000, 2_000)
    assert.deepEqual(later.release, [ps[6], ps[7]], 'ps[3] is closer to the root than ps[7]: it keeps fragment 3; the copy of 5 still fetching goes')
  })
})
