import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { TypedEventEmitter } from 'main-event'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ReplicaBook } from '../../src/replication/book.js'
import { FAILURES_BEFORE_GONE, HANDOVER_GIVE_UP_AFTER, MAX_HANDOVER_PLACEMENTS, SETTLE_ROUNDS } from '../../src/replication/constants.js'
import { HandOver } from '../../src/replication/hand-over.js'
import { byDistance } from '../../src/replication/keyspace.js'
import { Leadership } from '../../src/replication/leadership.js'
import { PeerLiveness } from '../../src/replication/peer-liveness.js'
import { ReplicaOp } from '../../src/protocol/replica-network.js'
import { ReplicaStore } from '../../src/store/replica-store.js'
import type { ReplicaClient } from '../../src/replication/client.js'
import type { ReplicaEvents } from '../../src/replication/events.js'
import type { Placement } from '../../src/replication/placement.js'
import type { Prober } from '../../src/replication/prober.js'
import type { RootView } from '../../src/replication/root-view.js'
import type { PeerId } from '@libp2p/interface'

const GRACE = 1_000
const CHECK = 100

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A placement that records what it was asked to do and does it at once on the view. */
function stubPlacement (): { placement: Placement, placed: number[], released: string[][] } {
  const placed: number[] = []
  const released: string[][] = []
  const placement = {
    isPlacing: () => false,
    place: async (_view: RootView, n: number) => { placed.push(n); return { placed: n, untried: 0, reasons: [] } },
    release: async (_view: RootView, peers: PeerId[]) => { released.push(peers.map(String)) }
  } as unknown as Placement
  return { placement, placed, released }
}

interface World {
  root: CID
  /** Every peer, closest to the root first. */
  ordered: PeerId[]
  liveness: PeerLiveness
  events: TypedEventEmitter<ReplicaEvents>
  heard: string[]
  bookFor(self: PeerId): ReplicaBook
}

async function world (): Promise<World> {
  const root = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`root ${Math.random()}`)))
  const peers = await Promise.all(Array.from({ length: 5 }, newPeer))
  const ordered = byDistance(root, peers.map(peer => ({ peer }))).map(p => p.peer)
  const liveness = new PeerLiveness()
  for (const p of ordered) liveness.seen(p.toString())
  const events = new TypedEventEmitter<ReplicaEvents>()
  const heard: string[] = []
  for (const type of ['repair:start', 'repair:done', 'holder:gone'] as const) {
    events.addEventListener(type, () => { heard.push(type) })
  }
  const log = defaultLogger().forComponent('test')
  return { root, ordered, liveness, events, heard, bookFor: self => new ReplicaBook({ self, store: new ReplicaStore(new MemoryDatastore()), liveness, log, onChange: () => {} }) }
}

function track (book: ReplicaBook, root: CID, holders: PeerId[], min = 3): RootView {
  const view = book.track({ root, min, max: min, size: 10, intentSince: 1, state: 'complete', holders: [], created: Date.now() })
  for (const h of holders) view.set(h, 'complete')
  return view
}

describe('replication: the leader\'s round (stubbed components)', () => {
  it('the closest complete holder places the missing copies, once it has led for SETTLE_ROUNDS rounds, and says when the repair is done', async () => {
    const w = await world()
    const [self, other, newcomer] = w.ordered
    const book = w.bookFor(self)
    const { placement, placed } = stubPlacement()
    const leader = new Leadership({ self, book, liveness: w.liveness, events: w.events, log: defaultLogger().forComponent('test'), placement, signal: () => new AbortController().signal }, { gracePeriod: GRACE, checkInterval: CHECK })
    const view = track(book, w.root, [self, other])
    const t0 = Date.now()
    leader.maintain(view, t0)
    assert.deepEqual(placed, [], 'a fresh leader waits before it acts')
    leader.maintain(view, t0 + SETTLE_ROUNDS * CHECK)
    assert.deepEqual(placed, [1], 'two of three copies: one placed')
    assert.deepEqual(w.heard, ['repair:start'])
    view.set(newcomer, 'complete')
    leader.maintain(view, t0 + (SETTLE_ROUNDS + 1) * CHECK)
    assert.deepEqual(placed, [1], 'nothing more to place')
    assert.deepEqual(w.heard, ['repair:start', 'repair:done'])
  })

  it('a holder that is not the closest complete one never places nor trims', async () => {
    const w = await world()
    const [closest, self] = w.ordered
    const book = w.bookFor(self)
    const { placement, placed, released } = stubPlacement()
    const leader = new Leadership({ self, book, liveness: w.liveness, events: w.events, log: defaultLogger().forComponent('test'), placement, signal: () => new AbortController().signal }, { gracePeriod: GRACE, checkInterval: CHECK })
    const view = track(book, w.root, [closest, self])
    const t0 = Date.now()
    for (let round = 0; round <= SETTLE_ROUNDS + 2; round++) leader.maintain(view, t0 + round * CHECK)
    assert.deepEqual(placed, [])
    assert.deepEqual(released, [])
  })

  it('reports a holder gone past the grace period once, and forgets it once it is replaced', async () => {
    const w = await world()
    const [self, a, b, c] = w.ordered
    const book = w.bookFor(self)
    const { placement } = stubPlacement()
    const leader = new Leadership({ self, book, liveness: w.liveness, events: w.events, log: defaultLogger().forComponent('test'), placement, signal: () => new AbortController().signal }, { gracePeriod: GRACE, checkInterval: CHECK })
    const view = track(book, w.root, [self, a, b])
    const t0 = Date.now()
    for (let i = 0; i < FAILURES_BEFORE_GONE; i++) w.liveness.failed(b.toString(), t0)
    leader.maintain(view, t0 + GRACE / 2)
    assert.ok(!w.heard.includes('holder:gone'), 'within the grace period it still counts')
    leader.maintain(view, t0 + GRACE + 1)
    leader.maintain(view, t0 + GRACE + 2)
    assert.equal(w.heard.filter(e => e === 'holder:gone').length, 1, 'reported once')
    assert.ok(view.has(b.toString()), 'kept while the root is short of copies')
    view.set(c, 'complete')
    leader.maintain(view, t0 + GRACE + 3)
    assert.ok(!view.has(b.toString()), 'forgotten once replaced')
  })
})

describe('replication: hand-over (stubbed components)', () => {
  it('a leaving holder places copies for the roots that would be short without it, waits for them, then tells every holder it goes', async () => {
    const w = await world()
    const [self, a, b, newcomer] = w.ordered
    const book = w.bookFor(self)
    const short = track(book, w.root, [self, a, b])
    const otherRoot = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`other ${Math.random()}`)))
    // this one has K copies without us: nothing to hand over
    track(book, otherRoot, [self, a, b, newcomer])
    const placed: string[] = []
    const placement = {
      isPlacing: () => false,
      place: async (view: RootView, n: number) => {
        placed.push(`${view.root.toString()}:${n}`)
        view.set(newcomer, 'fetching')
        return { placed: n, untried: 0, reasons: [] }
      }
    } as unknown as Placement
    // each probe round, the newcomer's copy completes
    const prober = { probeAll: async () => { short.set(newcomer, 'complete') } } as unknown as Prober
    const told: string[] = []
    const client = {
      request: async (peer: PeerId, msg: { op: ReplicaOp }) => {
        if (msg.op === ReplicaOp.LEAVING) told.push(peer.toString())
        return msg
      }
    } as unknown as ReplicaClient
    const handOver = new HandOver({ self, client, book, liveness: w.liveness, events: w.events, placement, prober }, { gracePeriod: GRACE, leaveTimeout: 10_000 })
    const result = await handOver.leave()
    assert.deepEqual(placed, [`${w.root.toString()}:1`], 'one copy placed, for the root that was short')
    assert.deepEqual(result, { handedOver: 1, unfinished: 0, short: [] })
    assert.deepEqual(told.sort(), [a, b, newcomer].map(String).sort(), 'every other holder heard we go')
  })

  it('stops at the leave timeout and says which roots are still short', async () => {
    const w = await world()
    const [self, a] = w.ordered
    const book = w.bookFor(self)
    track(book, w.root, [self, a], 2)
    // a peer that may take it does not answer yet: worth waiting for, until the leave timeout
    const placement = { isPlacing: () => false, place: async () => ({ placed: 0, untried: 1, reasons: [] }) } as unknown as Placement
    const prober = { probeAll: async () => {} } as unknown as Prober
    const client = { request: async (_peer: PeerId, msg: unknown) => msg } as unknown as ReplicaClient
    const handOver = new HandOver({ self, client, book, liveness: w.liveness, events: w.events, placement, prober }, { gracePeriod: GRACE, leaveTimeout: 300 })
    const started = Date.now()
    const result = await handOver.leave()
    assert.ok(Date.now() - started < 5_000, 'bounded by the leave timeout')
    assert.deepEqual(result, { handedOver: 0, unfinished: 1, short: [{ root: w.root.toString(), copies: 1, wanted: 2 }] })
  })

  for (const [asked, reasons, why] of [
    ['nobody else is in the group', [], 'no other peer of the replication group can take a copy'],
    ['every peer asked declines', ['storage full', 'storage full', 'disk full'], 'no peer took a copy (storage full; disk full)']
  ] as const) {
    it(`gives a root up within seconds when ${asked}, and says why`, async () => {
      const w = await world()
      const [self, a] = w.ordered
      const book = w.bookFor(self)
      track(book, w.root, [self, a], 2)
      let placements = 0
      const placement = { isPlacing: () => false, place: async () => { placements++; return { placed: 0, untried: 0, reasons } } } as unknown as Placement
      const prober = { probeAll: async () => {} } as unknown as Prober
      const client = { request: async (_peer: PeerId, msg: unknown) => msg } as unknown as ReplicaClient
      const handOver = new HandOver({ self, client, book, liveness: w.liveness, events: w.events, placement, prober }, { gracePeriod: GRACE, leaveTimeout: 60_000 })
      const started = Date.now()
      const result = await handOver.leave()
      const took = Date.now() - started
      assert.ok(took >= HANDOVER_GIVE_UP_AFTER && took < HANDOVER_GIVE_UP_AFTER + 3_000, `gave up after ${took} ms, not the 60 s leave timeout`)
      assert.ok(placements >= 2, 'asked again meanwhile')
      assert.deepEqual(result, { handedOver: 0, unfinished: 1, short: [{ root: w.root.toString(), copies: 1, wanted: 2, reason: why }] })
    })
  }

  it('a holder of many roots places a few at a time, and reports how many wait, naming a few', async () => {
    const w = await world()
    const [self, a] = w.ordered
    const book = w.bookFor(self)
    const roots = await Promise.all(Array.from({ length: 50 }, async (_, i) => CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(`many ${i} ${Math.random()}`)))))
    for (const root of roots) track(book, root, [self, a], 2)
    let running = 0
    let most = 0
    const placement = {
      isPlacing: () => false,
      place: async (_view: RootView, _n: number, signal: AbortSignal) => {
        running++
        most = Math.max(most, running)
        // a slow placement: a peer that may take it does not answer before the leave timeout
        await new Promise(resolve => signal.addEventListener('abort', resolve, { once: true }))
        running--
        return { placed: 0, untried: 1, reasons: [] }
      }
    } as unknown as Placement
    const reports: Array<{ pending: number, waiting: unknown[] }> = []
    w.events.addEventListener('handover', e => { reports.push(e.detail) })
    const prober = { probeAll: async () => {} } as unknown as Prober
    const client = { request: async (_peer: PeerId, msg: unknown) => msg } as unknown as ReplicaClient
    const handOver = new HandOver({ self, client, book, liveness: w.liveness, events: w.events, placement, prober }, { gracePeriod: GRACE, leaveTimeout: 1_500 })
    const result = await handOver.leave()
    assert.equal(most, MAX_HANDOVER_PLACEMENTS)
    assert.equal(result.unfinished, 50)
    assert.equal(reports[0].pending, 50)
    assert.ok(reports[0].waiting.length < 50 && reports[0].waiting.length > 0, 'a few named')
  })

  it('a peer that turns up while nobody could take a root is asked: the root is handed over', async () => {
    const w = await world()
    const [self, a, newcomer] = w.ordered
    const book = w.bookFor(self)
    const view = track(book, w.root, [self, a], 2)
    let placements = 0
    // nobody at first; the newcomer connects a moment later and takes a copy
    const placement = {
      isPlacing: () => false,
      place: async () => {
        if (++placements < 3) return { placed: 0, untried: 0, reasons: [] }
        view.set(newcomer, 'complete')
        return { placed: 1, untried: 0, reasons: [] }
      }
    } as unknown as Placement
    const prober = { probeAll: async () => {} } as unknown as Prober
    const client = { request: async (_peer: PeerId, msg: unknown) => msg } as unknown as ReplicaClient
    const handOver = new HandOver({ self, client, book, liveness: w.liveness, events: w.events, placement, prober }, { gracePeriod: GRACE, leaveTimeout: 60_000 })
    assert.deepEqual(await handOver.leave(), { handedOver: 1, unfinished: 0, short: [] })
  })

  it('does not give a root up while a copy is on its way', async () => {
    const w = await world()
    const [self, a, newcomer] = w.ordered
    const book = w.bookFor(self)
    const view = track(book, w.root, [self, a], 2)
    // the newcomer took a copy and downloads it; nobody else is left to ask
    view.set(newcomer, 'fetching')
    const placement = { isPlacing: () => false, place: async () => ({ placed: 0, untried: 0, reasons: [] }) } as unknown as Placement
    let rounds = 0
    // two probe rounds later its copy is complete
    const prober = { probeAll: async () => { if (++rounds === 2) view.set(newcomer, 'complete') } } as unknown as Prober
    const client = { request: async (_peer: PeerId, msg: unknown) => msg } as unknown as ReplicaClient
    const handOver = new HandOver({ self, client, book, liveness: w.liveness, events: w.events, placement, prober }, { gracePeriod: GRACE, leaveTimeout: 60_000 })
    assert.deepEqual(await handOver.leave(), { handedOver: 1, unfinished: 0, short: [] })
  })
})
