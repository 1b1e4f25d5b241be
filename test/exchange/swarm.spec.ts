import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { Bitfield } from '../../src/exchange/bitfield.js'
import { MAX_PEX_CANDIDATES, MAX_PEX_DIALS, PEX_LISTS_BURST, PEX_RECORDS_BURST } from '../../src/exchange/constants.js'
import { Swarm } from '../../src/exchange/swarm.js'
import { MAX_HAVES_PER_MESSAGE } from '../../src/protocol/constants.js'
import type { ProtocolViolationError } from '../../src/errors.js'
import type { SwarmChannel, SwarmChannelEvents, SwarmMessage, SwarmNetwork } from '../../src/protocol/swarm-network.js'
import type { PeerId, PeerInfo, PeerStore } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

/** A swarm stream from `peer`: what the swarm sends, and whether it aborted it for a violation. */
class FakeChannel {
  readonly outbound = false
  events?: SwarmChannelEvents
  readonly violations: ProtocolViolationError[] = []
  closed = false
  constructor (readonly peer: PeerId, readonly root: CID) {}
  listen (events: SwarmChannelEvents): void { this.events = events }
  async send (): Promise<void> {}
  async close (): Promise<void> { this.closed = true }
  abort (): void { this.closed = true }
  violated (err: ProtocolViolationError): void {
    this.violations.push(err)
    this.closed = true
  }

  /** A message from the peer. */
  say (msg: Partial<SwarmMessage>): void {
    this.events!.onMessage({ root: new Uint8Array(0), complete: false, leafCount: 0, bitfield: new Uint8Array(0), have: [], peers: [], leaving: false, ...msg } as SwarmMessage)
  }
}

describe('exchange: Swarm, against a hostile peer', () => {
  let root: CID
  let self: PeerId
  let merges: number
  let dials: Array<{ peer: string, addrs: Multiaddr[], done: PromiseWithResolvers<void> }>
  let dialing: number
  let mostAtOnce: number

  beforeEach(async () => {
    root = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('a root')))
    self = await newPeer()
    merges = 0
    dials = []
    dialing = 0
    mostAtOnce = 0
  })

  function swarm (): Swarm {
    const network = {
      isConnected: () => false,
      // a dial ends when the test says so
      dial: async (peer: PeerId, addrs: Multiaddr[]) => {
        const done = Promise.withResolvers<void>()
        dials.push({ peer: peer.toString(), addrs, done })
        mostAtOnce = Math.max(mostAtOnce, ++dialing)
        try {
          await done.promise
        } finally {
          dialing--
        }
      },
      open: async () => { throw new Error('not in this test') }
    } as unknown as SwarmNetwork
    const peerStore = {
      get: async () => { throw new Error('unknown') },
      merge: async () => { merges++ }
    } as unknown as PeerStore
    return new Swarm(root, { network, peerStore, self, log: defaultLogger().forComponent('test:swarm') }, false)
  }

  async function join (s: Swarm): Promise<FakeChannel> {
    const channel = new FakeChannel(await newPeer(), root)
    s.attach(channel as unknown as SwarmChannel)
    return channel
  }

  it('refuses a bitfield that does not fit its leafCount, or the root, before allocating anything for it', async () => {
    const s = swarm()
    s.setLeaves(new Bitfield(100))
    const before = process.memoryUsage().arrayBuffers
    // 2^32 - 1 leaves announced with a bitfield of 1 byte: 512 MiB if allocated first
    const liar = await join(s)
    liar.say({ leafCount: 2 ** 32 - 1, bitfield: new Uint8Array(1) })
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024)
    assert.equal(liar.violations.length, 1)
    assert.equal(s.peers.get(liar.peer.toString())?.bitfield, undefined)
    // a well-formed bitfield for another number of leaves than the root has
    const other = await join(s)
    other.say({ leafCount: 200, bitfield: new Uint8Array(25) })
    assert.equal(other.violations.length, 1)
    assert.match(other.violations[0].message, /200 leaves for a root of 100/)
    // the right one is taken
    const honest = await join(s)
    honest.say({ leafCount: 100, bitfield: new Uint8Array(13).fill(0xff) })
    assert.equal(honest.violations.length, 0)
    assert.equal(s.peers.get(honest.peer.toString())?.bitfield?.count, 100)
    s.close()
  })

  it('bitfields and haves sent without end are a flood', async () => {
    const s = swarm()
    s.setLeaves(new Bitfield(16))
    const a = await join(s)
    let n = 0
    while (a.violations.length === 0 && n < 100) {
      a.say({ leafCount: 16, bitfield: new Uint8Array(2) })
      n++
    }
    assert.equal(a.violations[0]?.kind, 'flood')
    assert.ok(n > 1 && n < 20, `the ${n}th bitfield was refused`)

    const b = await join(s)
    b.say({ leafCount: 16, bitfield: new Uint8Array(2) })
    n = 0
    while (b.violations.length === 0 && n < 100) {
      b.say({ have: Array.from({ length: MAX_HAVES_PER_MESSAGE }, (_, i) => i % 16) })
      n++
    }
    assert.equal(b.violations[0]?.kind, 'flood')
    assert.equal(n, 2, 'haves past twice the leaves and one full message')
    s.close()
  })

  it('peer exchange from a stranger: lists so many a second (more is a flood), records kept in memory only, dialled a few at a time, each once', async () => {
    const s = swarm()
    const discovered: PeerInfo[] = []
    s.addEventListener('discovered', e => { discovered.push(e.detail) })
    const list = async (octet: number): Promise<SwarmMessage['peers']> => await Promise.all(Array.from({ length: 50 }, async (_, i) => ({
      id: (await newPeer()).toMultihash().bytes,
      addrs: [multiaddr(`/ip4/10.9.${octet}.${i}/tcp/4001`).bytes]
    })))
    // lists of 50, as fast as it can: a few are taken (their records, 50 and then one a second), then it is a flood
    const stranger = await join(s)
    let lists = 0
    while (stranger.violations.length === 0 && lists < 100) stranger.say({ peers: await list(lists++) })
    assert.equal(stranger.violations[0]?.kind, 'flood')
    assert.equal(lists, PEX_LISTS_BURST + 1)
    // a new stream from it brings no new allowance
    stranger.say({ leaving: true })
    const again = new FakeChannel(stranger.peer, root)
    s.attach(again as unknown as SwarmChannel)
    again.say({ peers: await list(200) })
    assert.equal(again.violations.length, 1)
    assert.equal(merges, 0, 'nothing went into the peer store')
    // the first 50, and about one a second after that (a new stream brings no new allowance)
    assert.ok(discovered.length >= PEX_RECORDS_BURST && discovered.length <= PEX_RECORDS_BURST + 5, `${discovered.length} peers taken`)

    // a download asks to reach them all: at most MAX_PEX_DIALS dials at once, at the addresses given
    const connecting = discovered.map(async info => { await s.connect(info.id) })
    while (dials.length < MAX_PEX_DIALS) await new Promise(resolve => setImmediate(resolve))
    assert.equal(mostAtOnce, MAX_PEX_DIALS)
    // the dials fail one after another (nobody is there); each lets a waiting one go
    for (let i = 0; dials.length > i; i++) {
      dials[i].done.reject(new Error('connection refused'))
      await new Promise(resolve => setImmediate(resolve))
    }
    await Promise.all(connecting)
    assert.ok(mostAtOnce <= MAX_PEX_DIALS)
    assert.equal(dials.length, Math.min(discovered.length, MAX_PEX_CANDIDATES))
    assert.equal(new Set(dials.map(d => d.peer)).size, dials.length, 'each candidate dialled once')
    assert.ok(dials.every(d => d.addrs[0].toString().startsWith('/ip4/10.9.')))
    // asked again, an unreachable candidate is not dialled again
    const dialled = dials.length
    await s.connect(discovered[0].id).catch(() => {})
    assert.equal(dials.length, dialled)
    s.close()
  })
})
