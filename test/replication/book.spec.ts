import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ReplicaBook } from '../../src/replication/book.js'
import { entryOf } from '../../src/replication/codec.js'
import { PeerLiveness } from '../../src/replication/peer-liveness.js'
import { RootView } from '../../src/replication/root-view.js'
import { ReplicaStore } from '../../src/store/replica-store.js'
import type { PeerId } from '@libp2p/interface'

const GRACE = 1_000

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** Gossip merged into our view of a root: what another holder's answer can and cannot change. */
describe('replication: gossip merged into the book', () => {
  let self: PeerId, from: PeerId, other: PeerId
  let liveness: PeerLiveness
  let book: ReplicaBook
  let root: CID

  beforeEach(async () => {
    [self, from, other] = await Promise.all([newPeer(), newPeer(), newPeer()])
    root = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`root ${Math.random()}`)))
    liveness = new PeerLiveness()
    book = new ReplicaBook({ self, store: new ReplicaStore(new MemoryDatastore()), liveness, log: defaultLogger().forComponent('test'), onChange: () => {} })
  })

  /** What `from` answers: it holds the root whole and reaches `other`. */
  const answerNaming = (peer: PeerId): ReturnType<typeof entryOf> => {
    const theirs = new RootView(root, { min: 3, max: 3, size: 10 })
    theirs.set(from, 'complete')
    theirs.set(peer, 'complete')
    return entryOf(theirs, from, new PeerLiveness())
  }

  const track = (): RootView => book.track({ root, min: 3, max: 3, size: 10, intentSince: 0, state: 'complete', holders: [], created: 0 })

  it('a holder we had given up on (a partition that healed), named by a member that reaches it, counts again', () => {
    const view = track()
    // we missed it long and forgot it: it is gone to us
    liveness.failed(other.toString(), Date.now() - 60_000)
    liveness.failed(other.toString(), Date.now() - 59_000)
    assert.equal(liveness.stillCounts(other.toString(), GRACE), false)
    book.merge(view, from, answerNaming(other), GRACE)
    assert.ok(view.has(other), 'back in the view, to be probed')
    const a = view.assess(liveness, GRACE)
    assert.ok(a.absent.some(p => p.equals(other)), 'it counts (as not answering us yet)')
    assert.equal(a.counted, 3)
  })

  it('a holder we just trimmed is not brought back by gossip that lags', () => {
    const view = track()
    view.set(other, 'complete')
    book.releasedFrom(view, other)
    book.merge(view, from, answerNaming(other), GRACE)
    assert.equal(view.has(other), false)
  })

  it('a holder that said it is leaving is not brought back', () => {
    const view = track()
    liveness.left(other.toString())
    book.merge(view, from, answerNaming(other), GRACE)
    assert.equal(view.has(other), false)
    assert.equal(liveness.stillCounts(other.toString(), GRACE), false)
  })
})
