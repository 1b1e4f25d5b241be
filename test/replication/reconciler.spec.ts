import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { TypedEventEmitter } from 'main-event'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ReplicaBook } from '../../src/replication/book.js'
import { entryOf } from '../../src/replication/codec.js'
import { PeerLiveness } from '../../src/replication/peer-liveness.js'
import { Reconciler } from '../../src/replication/reconciler.js'
import { ReplicaOp } from '../../src/protocol/replica-network.js'
import { ReplicaStore } from '../../src/store/replica-store.js'
import type { ReplicaClient } from '../../src/replication/client.js'
import type { ReplicaEvents } from '../../src/replication/events.js'
import type { RootView } from '../../src/replication/root-view.js'
import type { PeerId } from '@libp2p/interface'

const GRACE = 1_000

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('replication: holders a view lost are found again through the DHT (stubbed network)', () => {
  let root: CID
  let peers: PeerId[]
  let liveness: PeerLiveness
  const log = defaultLogger().forComponent('test')

  beforeEach(async () => {
    root = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`root ${Math.random()}`)))
    peers = await Promise.all(Array.from({ length: 6 }, newPeer))
    liveness = new PeerLiveness()
  })

  function side (self: PeerId, holders: PeerId[]): { book: ReplicaBook, view: RootView } {
    const book = new ReplicaBook({ self, store: new ReplicaStore(new MemoryDatastore()), liveness, log, onChange: () => {} })
    const view = book.track({ root, min: 3, max: 3, size: 10, intentSince: 1, state: 'complete', holders: [], created: Date.now() })
    for (const h of holders) view.set(h, 'complete')
    return { book, view }
  }

  /** A client whose requests reach the other side's book, as the STATUS handler would: it folds our entry in and answers with its own. */
  function clientTo (sides: Map<string, { book: ReplicaBook, view: RootView }>, asked: string[], from: PeerId): ReplicaClient {
    return {
      request: async (peer: PeerId, msg: any) => {
        asked.push(peer.toString())
        const other = sides.get(peer.toString())
        if (other == null) throw new Error('no answer')
        assert.equal(msg.op, ReplicaOp.STATUS)
        other.book.mergeAll(from, msg.roots, GRACE)
        return { op: ReplicaOp.STATUS, roots: [entryOf(other.view, peer, liveness)], proof: new Uint8Array(0) }
      }
    } as unknown as ReplicaClient
  }

  it('two sides that each took the other for gone (each with K copies) learn of each other from the provider records, both ways', async () => {
    const [a1, a2, a3, b1, b2, b3] = peers
    const a = side(a1, [a1, a2, a3])
    const b = side(b1, [b1, b2, b3])
    const asked: string[] = []
    const stale = await newPeer()
    const reconciler = new Reconciler({
      self: a1,
      book: a.book,
      liveness,
      events: new TypedEventEmitter<ReplicaEvents>(),
      log,
      client: clientTo(new Map([[b1.toString(), b]]), asked, a1),
      // the DHT names every holder of both sides, ourselves, and a provider that no longer answers
      providers: async () => [a1, a2, b1, stale],
      bytesHeld: () => 0
    }, { gracePeriod: GRACE, probeTimeout: 1_000 })

    const joined = await reconciler.reconcile(a.view, new AbortController().signal)

    assert.deepEqual(asked.sort(), [b1.toString(), stale.toString()].sort(), 'only the providers our view does not hold are asked')
    assert.ok(a.view.holders.has(b1.toString()), 'b1 is a holder again in our view')
    assert.equal(a.view.holders.get(b1.toString())?.state, 'complete')
    // b1's gossip names its side's holders too: our view sees all six copies, and the leader trims the surplus
    for (const p of [b2, b3]) assert.ok(a.view.holders.has(p.toString()), 'the holders b1 knows come with its answer')
    assert.equal(joined, 3)
    assert.ok(b.view.holders.has(a1.toString()), 'and the other side learned of us from the probe')
    assert.ok(!a.view.holders.has(stale.toString()), 'a provider that does not answer is not taken for a holder')
  })

  it('looks a root up at most once per interval, and not while a look-up runs', async () => {
    const a = side(peers[0], [peers[0]])
    let lookups = 0
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    const reconciler = new Reconciler({
      self: peers[0],
      book: a.book,
      liveness,
      events: new TypedEventEmitter<ReplicaEvents>(),
      log,
      client: clientTo(new Map(), [], peers[0]),
      providers: async () => { lookups++; await gate; return [] },
      bytesHeld: () => 0
    }, { gracePeriod: GRACE, probeTimeout: 1_000, interval: 60_000 })
    const signal = new AbortController().signal
    const first = reconciler.reconcileDue([a.view], 1_000_000, signal)
    assert.equal(await reconciler.reconcileDue([a.view], 1_000_000 + 120_000, signal), 0, 'not while the first look-up runs')
    release()
    await first
    assert.equal(await reconciler.reconcileDue([a.view], 1_000_000 + 30_000, signal), 0, 'not again within the interval')
    await reconciler.reconcileDue([a.view], 1_000_000 + 61_000, signal)
    assert.equal(lookups, 2)
  })

  it('starts at most maxPerInterval look-ups within an interval: a large collection waits its turn', async () => {
    const views = await Promise.all(Array.from({ length: 5 }, async (_, i) => {
      const r = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`budget ${i}`)))
      const book = new ReplicaBook({ self: peers[0], store: new ReplicaStore(new MemoryDatastore()), liveness, log, onChange: () => {} })
      return book.track({ root: r, min: 1, max: 1, size: 1, intentSince: 1, state: 'complete', holders: [], created: 1 })
    }))
    const looked: string[] = []
    const reconciler = new Reconciler({
      self: peers[0],
      book: side(peers[0], [peers[0]]).book,
      liveness,
      events: new TypedEventEmitter<ReplicaEvents>(),
      log,
      client: clientTo(new Map(), [], peers[0]),
      providers: async r => { looked.push(r.toString()); return [] },
      bytesHeld: () => 0
    }, { gracePeriod: GRACE, probeTimeout: 1_000, interval: 60_000, maxPerInterval: 2 })
    const signal = new AbortController().signal
    const round = async (at: number): Promise<void> => { await reconciler.reconcileDue(views, at, signal) }
    await round(1_000_000)
    await round(1_010_000)
    assert.equal(looked.length, 2, 'two within the first interval, however many rounds')
    await round(1_060_000)
    await round(1_070_000)
    assert.equal(looked.length, 4, 'two more in the next')
    assert.equal(new Set(looked).size, 4, 'the roots never looked up before those looked up an interval ago')
  })

  it('runs at most maxRunning look-ups at once: the other roots wait for a later round', async () => {
    const views = await Promise.all(Array.from({ length: 5 }, async (_, i) => {
      const r = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`many ${i}`)))
      const book = new ReplicaBook({ self: peers[0], store: new ReplicaStore(new MemoryDatastore()), liveness, log, onChange: () => {} })
      return book.track({ root: r, min: 1, max: 1, size: 1, intentSince: 1, state: 'complete', holders: [], created: 1 })
    }))
    let running = 0
    let most = 0
    const looked: string[] = []
    let gate = Promise.withResolvers<void>()
    const reconciler = new Reconciler({
      self: peers[0],
      book: side(peers[0], [peers[0]]).book,
      liveness,
      events: new TypedEventEmitter<ReplicaEvents>(),
      log,
      client: clientTo(new Map(), [], peers[0]),
      providers: async r => {
        looked.push(r.toString())
        running++
        most = Math.max(most, running)
        await gate.promise
        running--
        return []
      },
      bytesHeld: () => 0
    }, { gracePeriod: GRACE, probeTimeout: 1_000, interval: 60_000, maxRunning: 2 })
    const signal = new AbortController().signal
    // one round after another while the look-ups hang
    const first = reconciler.reconcileDue(views, 1_000_000, signal)
    assert.equal(looked.length, 2, 'two look-ups start, three roots wait')
    assert.equal(await reconciler.reconcileDue(views, 1_000_001, signal), 0)
    assert.equal(looked.length, 2, 'none more while those run')
    gate.resolve()
    await first
    gate = Promise.withResolvers<void>()
    gate.resolve()
    await reconciler.reconcileDue(views, 1_000_002, signal)
    await reconciler.reconcileDue(views, 1_000_003, signal)
    assert.equal(most, 2)
    assert.deepEqual([...new Set(looked)].sort(), views.map(v => v.root.toString()).sort(), 'every root is looked up in a later round')
    assert.equal(looked.length, 5, 'each once within the interval')
  })
})
