import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as varint from 'uint8-varint'
import { DEFAULT_REPLICATION } from '../../src/config/schema.js'
import { MAX_HOLDERS_PER_ROOT, MAX_REPLICA_MESSAGE_SIZE, MAX_REPLICA_ROOTS } from '../../src/protocol/constants.js'
import { ReplicaOp, decodeReplicaMessage, encodeReplicaMessage } from '../../src/protocol/replica-network.js'
import { blankEntry } from '../../src/replication/codec.js'
import { ReplicationGroup } from '../../src/replication/group.js'
import { MAX_PAGES_PER_ROUND } from '../../src/replication/constants.js'
import { MAX_ENTRY_BYTES, MAX_PEER_ID_BYTES, MAX_ROOT_BYTES, PAGE_BYTES, PAGE_ROOTS, QUERY_PAGE_ROOTS, unsigned64 } from '../../src/replication/pages.js'
import { ReplicaManager } from '../../src/replication/replica-manager.js'
import { DigestSet } from '../../src/replication/sync-ledger.js'
import { ReplicaStore } from '../../src/store/replica-store.js'
import type { ReplicaHandler, ReplicaMessage, ReplicaNetwork } from '../../src/protocol/replica-network.js'
import type { RoundFigures } from '../../src/replication/events.js'
import type { PeerId } from '@libp2p/interface'

const KEY = new Uint8Array(32).fill(3)
const GROUP = new ReplicationGroup({ key: KEY })

async function newPeer (type: 'Ed25519' | 'secp256k1' = 'Ed25519'): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair(type))
}

async function rootOf (i: number, codec = 0x55): Promise<CID> {
  return CID.createV1(codec, await sha256.digest(new TextEncoder().encode(`root ${i}`)))
}

/** A message as the receiver decodes it: framed within the limits by the sender, decoded within the receiver's. */
function overTheWire (msg: ReplicaMessage): { msg: ReplicaMessage, bytes: number } {
  const framed = encodeReplicaMessage(msg).subarray()
  const length = varint.decode(framed)
  assert.ok(framed.byteLength <= MAX_REPLICA_MESSAGE_SIZE + 8)
  return { msg: decodeReplicaMessage(framed.subarray(varint.encodingLength(length))), bytes: framed.byteLength }
}

/** A request as the network saw it (the entries' roots and holder counts, not the entries: a large run sends millions). */
interface Sent {
  from: string
  to: string
  roots: string[]
  states: string[]
  holders: number[]
  sync?: { reset: boolean, dropped: number }
  bytes: number
  answerBytes: number
}

/**
 * Replica managers on one in-memory network: each request and answer is
 * encoded within the protocol's limits by its sender and decoded within
 * them by its receiver, as on a stream. Peers with no manager are either
 * offline or answered by `fake`.
 */
class Net {
  readonly handlers = new Map<string, ReplicaHandler>()
  readonly sent: Sent[] = []
  offline = new Set<string>()
  fake?: (from: PeerId, to: PeerId, msg: ReplicaMessage) => ReplicaMessage

  network (self: PeerId): ReplicaNetwork {
    return {
      onRequest: async (h: ReplicaHandler | undefined) => { if (h != null) this.handlers.set(self.toString(), h) },
      request: async (peer: PeerId, msg: ReplicaMessage) => {
        const request = overTheWire(msg)
        const handler = this.handlers.get(peer.toString())
        if (this.offline.has(peer.toString()) || (handler == null && this.fake == null)) throw new Error('offline')
        const answer = handler != null ? await handler(self, request.msg, AbortSignal.timeout(5_000)) : GROUP.seal(this.fake!(self, peer, request.msg), peer, self)
        const response = overTheWire(answer)
        const m = request.msg
        this.sent.push({
          from: self.toString(),
          to: peer.toString(),
          roots: m.roots.map(r => CID.decode(r.root).toString()),
          states: m.roots.map(r => String(r.state)),
          holders: m.roots.map(r => r.holders.length),
          sync: m.sync == null ? undefined : { reset: m.sync.reset, dropped: m.sync.dropped.length },
          bytes: request.bytes,
          answerBytes: response.bytes
        })
        return response.msg
      },
      traffic: { requestsSent: 0, answersReceived: 0, requestsReceived: 0, answersSent: 0, bytesSent: 0, bytesReceived: 0 }
    } as unknown as ReplicaNetwork
  }
}

class Member {
  manager!: ReplicaManager
  store = new ReplicaStore(new MemoryDatastore())
  readonly released: string[] = []
  /** What each periodic round cost (the first one runs at start). */
  readonly rounds: RoundFigures[] = []

  /** `checkInterval`: a peer that synced with us within it is not probed back (0: every round probes every peer). */
  constructor (readonly peer: PeerId, private readonly net: Net, private readonly checkInterval = 0) {}

  async start (): Promise<void> {
    this.manager = new ReplicaManager({
      peerId: this.peer,
      network: this.net.network(this.peer),
      store: this.store,
      logger: defaultLogger(),
      group: GROUP,
      candidates: async () => [],
      providers: async () => [],
      addressesOf: async () => [],
      isComplete: async () => true,
      keepReplica: async () => {},
      fetchReplica: async () => undefined,
      releaseReplica: async root => { this.released.push(root.toString()) },
      usedStorage: async () => 0,
      diskSpace: async () => ({ free: 1e12, total: 1e12 }),
      watchRelays: async () => () => {},
      isConnected: () => false
    }, { ...DEFAULT_REPLICATION, checkInterval: this.checkInterval, probeTimeout: 1_000, maxStorage: 0 })
    this.manager.events.addEventListener('probe:round', e => { this.rounds.push(e.detail) })
    await this.manager.start()
    // start() runs a first round in the background and the periodic ones: the tests run their rounds themselves
    await this.idle()
    clearInterval((this.manager as any).timer)
  }

  /** One round of the prober, as the periodic tick runs it. */
  async round (): Promise<RoundFigures> {
    return await (this.manager as any).prober.probeAll(AbortSignal.timeout(30_000))
  }

  async idle (): Promise<void> {
    while ((this.manager as any).ticking === true) await new Promise(resolve => setTimeout(resolve, 5))
  }

  async stop (): Promise<void> {
    await this.manager.stop()
  }
}

/** `count` roots held complete by every one of `members` (records as a settled placement leaves them), and by `extraHolders`. */
async function seed (members: Member[], count: number, extraHolders: PeerId[] = [], codec = 0x55, from = 0): Promise<CID[]> {
  const roots = await Promise.all(Array.from({ length: count }, async (_, i) => await rootOf(from + i, codec)))
  for (const m of members) {
    const holders = [...members.filter(o => o !== m).map(o => o.peer.toString()), ...extraHolders.map(p => p.toString())]
    for (const root of roots) await m.store.put({ root, min: 3, max: 3, intentSince: 1, size: 10, state: 'complete', holders, created: 1 })
  }
  return roots
}

describe('replication: holders sync their views in pages, and only what changed (in-memory network)', function () {
  this.timeout(120_000)
  let net: Net
  let members: Member[]

  beforeEach(async () => {
    net = new Net()
    members = await Promise.all([0, 1, 2].map(async () => new Member(await newPeer(), net)))
  })

  afterEach(async () => {
    for (const m of members) await m.stop().catch(() => {})
  })

  it('the first round sends everything in pages within the limits; later rounds one small request per pair', async () => {
    const roots = await seed(members, 3_000)
    for (const m of members) await m.start()
    net.sent.length = 0
    const [a, b, c] = members
    const first = await a.round()
    assert.equal(first.peers, 2)
    const fromA = net.sent.filter(s => s.from === a.peer.toString())
    assert.equal(fromA.reduce((n, s) => n + s.roots.length, 0), 2 * roots.length, 'every entry, to each peer once')
    assert.ok(fromA.length >= 2 * Math.ceil(roots.length / PAGE_ROOTS), 'in pages')
    assert.ok(fromA.every(s => s.sync?.reset === (s === fromA.find(x => x.to === s.to))), 'the first page to each peer is a reset')
    await b.round()
    await c.round()
    // every pair agrees now: a round with nothing new is one request to each peer, with no entry
    net.sent.length = 0
    for (const m of members) await m.round()
    assert.equal(net.sent.length, 6)
    assert.ok(net.sent.every(s => s.roots.length === 0 && s.sync != null && s.bytes < 200 + 40 * 3), 'a few hundred bytes each, whatever the number of roots')
    for (const m of members) {
      for (const s of m.manager.list()) assert.equal(s.copies, 3)
    }
  })

  it('a changed root is sent alone; a root let go is told once, and its holders forget us as a holder', async () => {
    const roots = await seed(members, 50)
    for (const m of members) await m.start()
    const [a, b, c] = members
    for (let i = 0; i < 2; i++) for (const m of members) await m.round()
    // a changes K of one root: only that entry goes, to both peers
    await a.manager.replicate(roots[7], { min: 2, max: 3, size: 10 })
    net.sent.length = 0
    await a.round()
    assert.deepEqual(net.sent.map(s => s.roots), [[roots[7].toString()], [roots[7].toString()]])
    assert.equal(b.manager.list().find(s => s.cid === roots[7].toString())?.wanted, 2, 'the new intent reached b')
    // b and c took it up: their entries of it changed, and go to their peers once
    net.sent.length = 0
    for (const m of [b, c]) await m.round()
    assert.ok(net.sent.every(s => s.roots.every(r => r === roots[7].toString())), 'nothing else')
    for (const m of [b, c]) assert.ok(net.sent.some(s => s.from === m.peer.toString() && s.to === a.peer.toString() && s.roots.length === 1), 'each tells a of its own change')
    // c lets a root go: it tells a and b once that it keeps nothing of it
    await c.manager.drop(roots[3])
    net.sent.length = 0
    await c.round()
    const told = net.sent.filter(s => s.from === c.peer.toString())
    assert.equal(told.length, 2)
    for (const s of told) {
      assert.deepEqual([s.roots, s.states], [[roots[3].toString()], [blankEntry(roots[3]).state]])
    }
    for (const m of [a, b]) {
      const status = m.manager.list().find(s => s.cid === roots[3].toString())!
      assert.ok(!status.holders.some(h => h.peer === c.peer.toString()), 'c is no holder of it any more')
    }
    net.sent.length = 0
    await c.round()
    assert.ok(net.sent.every(s => s.roots.length === 0), 'told once')
  })

  it('a peer that lost what it kept of ours (a restart) is sent everything again; no holder is lost meanwhile', async () => {
    const roots = await seed(members, 200)
    for (const m of members) await m.start()
    const [a, b] = members
    for (let i = 0; i < 2; i++) for (const m of members) await m.round()
    // b forgets what a told it, as a restart would
    const book = (b.manager as any).book
    book.sync.forget(a.peer.toString())
    net.sent.length = 0
    await a.round()
    const toB = net.sent.filter(s => s.from === a.peer.toString() && s.to === b.peer.toString())
    assert.equal(toB.length, 1, 'the digest did not match: this round stops there')
    await a.round()
    const again = net.sent.filter(s => s.from === a.peer.toString() && s.to === b.peer.toString()).slice(1)
    assert.equal(again[0].sync?.reset, true, 'the next sync starts from scratch')
    assert.equal(again.reduce((n, s) => n + s.roots.length, 0), roots.length)
    net.sent.length = 0
    await a.round()
    assert.ok(net.sent.filter(s => s.from === a.peer.toString()).every(s => s.roots.length === 0), 'and then agrees')
    for (const m of members) for (const s of m.manager.list()) assert.equal(s.copies, 3)
  })

  it('a peer that synced with us within the round is not probed back, unless we have something new for it', async () => {
    members = await Promise.all([0, 1].map(async () => new Member(await newPeer(), net, 60_000)))
    const roots = await seed(members, 20)
    for (const m of members) await m.start()
    const [a, b] = members
    await a.round()
    await b.round()
    net.sent.length = 0
    await a.round()
    assert.equal(net.sent.length, 0, 'b just synced with us and we have nothing new: its request was the probe')
    await a.manager.replicate(roots[2], { min: 2, max: 3, size: 10 })
    await a.round()
    assert.deepEqual(net.sent.map(s => [s.from, s.roots]), [[a.peer.toString(), [roots[2].toString()]]])
  })

  it('a peer that does not answer misses the round\'s probe; the others are not held up', async () => {
    await seed(members, 20)
    for (const m of members) await m.start()
    const [a, b, c] = members
    for (let i = 0; i < 2; i++) for (const m of members) await m.round()
    net.offline.add(c.peer.toString())
    const absent = new Promise(resolve => a.manager.events.addEventListener('holder:absent', resolve, { once: true }))
    await a.round()
    await absent
    const status = a.manager.list()[0]
    assert.equal(status.holders.find(h => h.peer === c.peer.toString())?.state, 'absent')
    assert.equal(status.holders.find(h => h.peer === b.peer.toString())?.state, 'complete')
    // our entries name the holders we reach: every one changed, and goes to b
    net.sent.length = 0
    await a.round()
    const toB = net.sent.filter(s => s.to === b.peer.toString())
    assert.equal(toB.reduce((n, s) => n + s.roots.length, 0), 20)
    assert.ok(toB.every(s => s.holders.every(n => n === 1)), 'naming b alone')
  })
})

describe('replication: the largest messages honest peers send fit the receiver\'s limits', function () {
  this.timeout(300_000)

  it('the limits leave room for a page of the largest entries, and a query page\'s answer', () => {
    // computed from the limits: a root at most 44 bytes, a PeerId at most 44, 64 holders (an absent one with its time)
    assert.ok(MAX_ROOT_BYTES >= 1 + 9 + 34 && MAX_PEER_ID_BYTES >= 2 + 42)
    assert.ok(MAX_ENTRY_BYTES > MAX_HOLDERS_PER_ROOT * (MAX_PEER_ID_BYTES + 2) && MAX_ENTRY_BYTES < 8 * 1024, `${MAX_ENTRY_BYTES}`)
    assert.ok(PAGE_BYTES + MAX_ENTRY_BYTES + 64 * 1024 <= MAX_REPLICA_MESSAGE_SIZE, 'a page and its envelope (proof, reachable peers) are far inside the size limit')
    assert.ok(PAGE_ROOTS <= MAX_REPLICA_ROOTS / 2)
    assert.ok(QUERY_PAGE_ROOTS * MAX_ENTRY_BYTES <= PAGE_BYTES, 'a query\'s answer is a page too')
  })

  it('10 000 roots, each with more holders than a message may name: every request and answer fits, and the syncs complete', async () => {
    const net = new Net()
    const a = new Member(await newPeer(), net)
    const b = new Member(await newPeer(), net)
    // 65 more holders with the longest PeerIds (secp256k1 keys inlined: 39 bytes) that answer as a peer keeping every root would
    const phantoms = await Promise.all(Array.from({ length: 65 }, async () => await newPeer('secp256k1')))
    const kept = new Map<string, DigestSet>()
    net.fake = (from, to, msg) => {
      assert.equal(msg.op, ReplicaOp.STATUS)
      const key = `${to.toString()}<${from.toString()}`
      const heard = kept.get(key) ?? new DigestSet()
      kept.set(key, heard)
      if (msg.sync == null) return { op: msg.op, roots: msg.roots, proof: new Uint8Array(0) }
      if (msg.sync.reset) heard.clear()
      for (const d of msg.sync.dropped) heard.delete(CID.decode(d).toString())
      for (const r of msg.roots) heard.set(CID.decode(r.root).toString(), unsigned64(r.digest))
      return { op: msg.op, roots: [], proof: new Uint8Array(0), sync: { reset: false, dropped: [], reachable: phantoms.slice(0, 50).map(p => p.toMultihash().bytes), digest: heard.xor, kept: heard.size } }
    }
    // the longest CIDs Shoal keeps (a SHA-256 CIDv1 with a codec of a 7-byte varint): 10 000 roots a and b hold,
    // 300 of them with the 65 holders more
    const roots = await seed([a, b], 9_700, [], 2 ** 45)
    roots.push(...await seed([a, b], 300, phantoms, 2 ** 45, 9_700))
    assert.equal(roots[0].bytes.byteLength, 42)
    await a.start()
    await b.start()
    // the first round ran at start; a few more finish whatever did not fit in it
    for (let i = 0; i < 4; i++) await a.round()
    const rounds = [a.rounds[0], ...await Promise.all([a.round()])]
    const pages = net.sent.filter(s => s.from === a.peer.toString())
    const largest = Math.max(...net.sent.map(s => Math.max(s.bytes, s.answerBytes)))
    console.log(`      ${net.sent.length} requests; largest message ${largest} bytes (an entry at most ${MAX_ENTRY_BYTES}); a's first round: ${rounds[0].requests} requests with ${rounds[0].entries} entries, its last ${rounds[1].requests} with ${rounds[1].entries}`)
    assert.ok(largest <= MAX_REPLICA_MESSAGE_SIZE / 2, `${largest}`)
    assert.ok(pages.some(s => s.holders.some(n => n === MAX_HOLDERS_PER_ROOT)), 'entries name the most holders a message may')
    assert.ok(rounds[0].entries >= 10_000 + 65 * 300, 'the first round sent every entry to every holder')
    assert.ok(rounds[0].requests <= 66 * MAX_PAGES_PER_ROUND, 'at most MAX_PAGES_PER_ROUND pages per peer per round')
    assert.equal(rounds[1].entries, 0, 'every sync completed: a later round carries no entry')
    assert.equal(rounds[1].requests, 66, 'one small request per peer')
    // b's answers folded a's entries in, and b's own syncs and a hand-over's queries fit as well
    await b.round()
    await (a.manager as any).prober.probeAll(AbortSignal.timeout(60_000), new Set(roots.slice(0, 500).map(r => r.toString())))
    // a status query from a peer that holds nothing: the answer names every holder, live or absent, at most 64 in all
    const stranger = await newPeer()
    const answer = overTheWire(GROUP.seal({ op: ReplicaOp.STATUS, roots: [blankEntry(roots[0])], proof: new Uint8Array(0) }, stranger, a.peer))
    const reply = overTheWire(await net.handlers.get(a.peer.toString())!(stranger, answer.msg, AbortSignal.timeout(5_000)))
    assert.ok(reply.msg.roots[0].holders.length + reply.msg.roots[0].absent.length <= MAX_HOLDERS_PER_ROOT)
    await a.stop()
    await b.stop()
  })
})
