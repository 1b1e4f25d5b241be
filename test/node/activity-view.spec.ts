import assert from 'node:assert/strict'
import fc from 'fast-check'
import { sharesOf, topView } from '../../src/node/activity-view.js'
import type { TopSample } from '../../src/node/activity-view.js'
import type { PeerContribution } from '../../src/exchange/session-types.js'

const MiB = 1024 * 1024

function sample (contributors: PeerContribution[], bytesDone: number): TopSample {
  return {
    at: 0,
    transfers: {
      downloads: [{ root: 'bafyroot', purpose: 'get', startedAt: 1, blocksKnown: 10, blocksDone: 5, bytesFetched: contributors.reduce((n, c) => n + c.bytes, 0), bytesDone, bytesTotal: 10 * MiB, peers: contributors.length, contributors }],
      activeUploads: 0,
      peers: [],
      bytesSent: 0,
      bytesReceived: 0
    },
    replicas: []
  }
}

const sum = (shares: Array<{ percent: number }>): number => shares.reduce((n, s) => n + s.percent, 0)

describe('node: activity view, each peer\'s share of a download', () => {
  it('shares of what the peers sent, not of the bytes on disk: an endgame duplicate or a block not yet written never takes a peer past 100 %', () => {
    // one peer sent 5 blocks and an interior node, and the endgame had a second copy of a block
    // sent by another peer; 5 MiB are on disk (bytes per disk: 102 % for the first peer)
    const contributors = [
      { peerId: 'peer-a', bytes: 5 * MiB + 100 * 1024, blocks: 6 },
      { peerId: 'peer-b', bytes: MiB, blocks: 1 }
    ]
    assert.ok(contributors[0].bytes / (5 * MiB) > 1, 'the old share, over the bytes on disk, passed 100 %')
    const view = topView(undefined, sample(contributors, 5 * MiB))
    assert.deepEqual(view.downloads[0].shares, [{ peerId: 'peer-a', percent: 84 }, { peerId: 'peer-b', percent: 16 }])
  })

  it('one peer has all of it; peers that sent nothing have no share; nothing received, no shares', () => {
    assert.deepEqual(sharesOf([{ peerId: 'a', bytes: 7, blocks: 1 }, { peerId: 'b', bytes: 0, blocks: 0 }]), [{ peerId: 'a', percent: 100 }])
    assert.deepEqual(sharesOf([]), [])
    assert.deepEqual(sharesOf([{ peerId: 'a', bytes: 0, blocks: 0 }]), [])
  })

  it('rounded so they add up to 100: thirds are 34, 33, 33, not 33 × 3; halves of an odd split are 51 and 49, not 51 and 50', () => {
    assert.deepEqual(sharesOf(['a', 'b', 'c'].map(peerId => ({ peerId, bytes: 1, blocks: 1 }))).map(s => s.percent), [34, 33, 33])
    assert.deepEqual(sharesOf([{ peerId: 'a', bytes: 505, blocks: 1 }, { peerId: 'b', bytes: 495, blocks: 1 }]), [{ peerId: 'a', percent: 51 }, { peerId: 'b', percent: 49 }])
    // seven equal peers: Math.round gave 14 % each, 98 %; 33.5, 33.5 and 33 % gave 34, 34 and 33: 101 %
    assert.equal(sum(sharesOf(Array.from({ length: 7 }, (_, i) => ({ peerId: `p${i}`, bytes: 10, blocks: 1 })))), 100)
    assert.equal(sum(sharesOf([335, 335, 330].map((bytes, i) => ({ peerId: `p${i}`, bytes, blocks: 1 })))), 100)
  })

  it('whatever the peers sent: the shares add up to exactly 100, each within one point of its exact share, largest first', () => {
    const contributions = fc.array(fc.record({ peerId: fc.uuid(), bytes: fc.nat({ max: 64 * MiB }), blocks: fc.constant(1) }), { maxLength: 40 })
    fc.assert(fc.property(contributions, list => {
      const whole = list.reduce((n, c) => n + c.bytes, 0)
      const shares = sharesOf(list)
      if (whole === 0) return shares.length === 0
      assert.equal(sum(shares), 100)
      for (const s of shares) {
        const exact = list.filter(c => c.peerId === s.peerId).reduce((n, c) => n + c.bytes, 0) / whole * 100
        assert.ok(s.percent <= 100 && Math.abs(s.percent - exact) < 1 + 1e-9 * list.length, `${s.percent} for ${exact}`)
      }
      for (let i = 1; i < shares.length; i++) assert.ok(shares[i - 1].percent >= shares[i].percent)
      return true
    }))
  })
})
