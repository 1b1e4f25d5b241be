import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { TypedEventEmitter } from 'main-event'
import { MemoryDatastore } from 'datastore-core'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ReplicaBook } from '../../src/replication/book.js'
import { RETRY_SILENT_PEER_AFTER } from '../../src/replication/constants.js'
import { byDistance } from '../../src/replication/keyspace.js'
import { PeerLiveness } from '../../src/replication/peer-liveness.js'
import { Placement } from '../../src/replication/placement.js'
import { ReplicaStore } from '../../src/store/replica-store.js'
import type { Answer, ReplicaClient } from '../../src/replication/client.js'
import type { ReplicaEvents } from '../../src/replication/events.js'
import type { PeerId } from '@libp2p/interface'

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** Placement on stubbed components: a client that records whom it asked and answers as told. */
async function placementWith (peers: PeerId[], answer: (peer: PeerId) => Answer['state']): Promise<{ placement: Placement, asked: PeerId[], liveness: PeerLiveness, book: ReplicaBook, self: PeerId }> {
  const self = await newPeer()
  const log = defaultLogger().forComponent('test')
  const liveness = new PeerLiveness()
  const book = new ReplicaBook({ self, store: new ReplicaStore(new MemoryDatastore()), liveness, log, onChange: () => {} })
  const asked: PeerId[] = []
  const client = {
    answer: async (peer: PeerId) => { asked.push(peer); const state = answer(peer); return { state, reason: state === 'declined' ? 'storage full' : '' } },
    ask: async (peer: PeerId) => { asked.push(peer); return answer(peer) }
  } as unknown as ReplicaClient
  const placement = new Placement({ self, client, book, liveness, events: new TypedEventEmitter<ReplicaEvents>(), log, candidates: async () => peers })
  return { placement, asked, liveness, book, self }
}

describe('replication: placement', () => {
  let root: CID
  let peers: PeerId[]

  beforeEach(async () => {
    root = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`root ${Math.random()}`)))
    peers = await Promise.all(Array.from({ length: 5 }, newPeer))
  })

  const track = (book: ReplicaBook): ReturnType<ReplicaBook['track']> =>
    book.track({ root, min: 2, max: 2, size: 10, intentSince: 1, state: 'complete', holders: [], created: Date.now() })

  it('offers copies to the live peers closest to the root, closest first, until enough took one', async () => {
    const { placement, asked, book } = await placementWith(peers, () => 'fetching')
    const view = track(book)
    assert.deepEqual(await placement.place(view, 2, new AbortController().signal), { placed: 2, untried: 3, reasons: [] })
    const closest = byDistance(root, peers.map(peer => ({ peer }))).slice(0, 2).map(p => p.peer.toString())
    assert.deepEqual(asked.map(String), closest)
    assert.ok(closest.every(p => view.has(p)), 'both are holders now')
  })

  it('never asks a peer that declined, again, within the wait; asks the next one', async () => {
    const ordered = byDistance(root, peers.map(peer => ({ peer }))).map(p => p.peer)
    const { placement, asked, book } = await placementWith(peers, peer => peer.equals(ordered[0]) ? 'declined' : 'fetching')
    const view = track(book)
    assert.deepEqual(await placement.place(view, 1, new AbortController().signal), { placed: 1, untried: 3, reasons: ['storage full'] })
    assert.deepEqual(asked.map(String), [ordered[0], ordered[1]].map(String))
    asked.length = 0
    view.remove(ordered[1])
    assert.equal((await placement.place(view, 1, new AbortController().signal)).placed, 1)
    assert.deepEqual(asked.map(String), [ordered[1].toString()], 'the decliner is not asked again')
  })

  it('asks a silent peer only after every live one, and only once it has been silent for a while', async () => {
    const ordered = byDistance(root, peers.map(peer => ({ peer }))).map(p => p.peer)
    const { placement, asked, book, liveness } = await placementWith(peers, () => 'unreachable')
    const now = Date.now()
    // the two closest have not answered: one just now, one for long (a partition that may have healed)
    liveness.failed(ordered[0].toString(), now - 1_000)
    liveness.failed(ordered[1].toString(), now - RETRY_SILENT_PEER_AFTER - 1_000)
    const view = track(book)
    // none answers: each may still take a copy later
    assert.deepEqual(await placement.place(view, 2, new AbortController().signal), { placed: 0, untried: 4, reasons: [] })
    assert.deepEqual(asked.map(String), [...ordered.slice(2), ordered[1]].map(String))
  })

  it('one placement per root at a time: a second one started meanwhile places nothing', async () => {
    let release!: () => void
    const held = new Promise<void>(resolve => { release = resolve })
    const { placement, asked, book } = await placementWith(peers, () => 'fetching')
    const slow = placement as unknown as { c: { client: { answer: (peer: PeerId) => Promise<Answer> } } }
    const answer = slow.c.client.answer
    slow.c.client.answer = async (peer: PeerId) => { await held; return await answer(peer) }
    const view = track(book)
    const first = placement.place(view, 2, new AbortController().signal)
    assert.ok(placement.isPlacing(root))
    assert.equal((await placement.place(view, 2, new AbortController().signal)).placed, 0)
    release()
    assert.equal((await first).placed, 2)
    assert.equal(asked.length, 2, 'two offers in all, not four')
  })
})

describe('replication: expiring maps', () => {
  it('drops only the entries whose time has passed', async () => {
    const { expire } = await import('../../src/replication/expiry.js')
    const until = new Map([['a', 10], ['b', 20], ['c', 30]])
    expire(until, 20)
    assert.deepEqual([...until.keys()], ['c'])
  })
})
