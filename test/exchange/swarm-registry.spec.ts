import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { SwarmRegistry } from '../../src/exchange/swarm-registry.js'
import type { SwarmChannel, SwarmChannelEvents, SwarmNetwork } from '../../src/protocol/swarm-network.js'
import type { PeerId, PeerStore } from '@libp2p/interface'

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

interface FakeChannel {
  peer: PeerId
  root: CID
  outbound: boolean
  closed: boolean
  listening?: SwarmChannelEvents
  listen(events: SwarmChannelEvents): void
  send(): Promise<void>
  close(): Promise<void>
}

/** An inbound swarm stream from `peer`, as the network hands it over. */
function channel (peer: PeerId, root: CID): FakeChannel {
  const c: FakeChannel = {
    peer,
    root,
    outbound: false,
    closed: false,
    listen (events: SwarmChannelEvents) { c.listening = events },
    send: async () => {},
    close: async () => { c.closed = true }
  }
  return c
}

describe('exchange: the swarm registry', () => {
  let root: CID
  let deliver: (c: SwarmChannel) => void
  const inbound = (c: FakeChannel): void => { deliver(c as unknown as SwarmChannel) }
  let registry: SwarmRegistry
  let answer: PromiseWithResolvers<boolean>

  beforeEach(async () => {
    root = CID.createV1(0x55, await sha256.digest(new TextEncoder().encode('seeded')))
    answer = Promise.withResolvers<boolean>()
    registry = new SwarmRegistry({
      network: { onInbound: (fn: (c: SwarmChannel) => void) => { deliver = fn } } as unknown as SwarmNetwork,
      peerStore: { get: async () => { throw new Error('unknown') } } as unknown as PeerStore,
      peerId: await newPeer(),
      logger: defaultLogger(),
      // the store answers slowly: both streams ask before either hears back
      holdsComplete: async () => await answer.promise
    })
    registry.start()
  })

  afterEach(() => { registry.stop() })

  it('a stream that closes while the peer list is looked up is let go quietly (no unhandled rejection, no crash)', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown): void => { unhandled.push(err) }
    process.on('unhandledRejection', onUnhandled)
    try {
      answer.resolve(true)
      inbound(channel(await newPeer(), root))
      await new Promise(resolve => setImmediate(resolve))
      // a second peer: its hello waits on a slow peer-store lookup of the first while its stream fails
      const lookup = Promise.withResolvers<never>()
      ;(registry as any).c.peerStore.get = async () => await lookup.promise
      const failing = channel(await newPeer(), root)
      failing.send = async () => { throw new Error('stream is closed') }
      inbound(failing)
      await new Promise(resolve => setImmediate(resolve))
      await new Promise(resolve => setTimeout(resolve, 10))
      lookup.reject(new Error('unknown'))
      await new Promise(resolve => setTimeout(resolve, 10))
      assert.deepEqual(unhandled, [])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('two inbound streams for one root at once make one swarm with both peers', async () => {
    const a = channel(await newPeer(), root)
    const b = channel(await newPeer(), root)
    inbound(a)
    inbound(b)
    answer.resolve(true)
    await new Promise(resolve => setImmediate(resolve))
    const swarm = registry.get(root)
    assert.ok(swarm != null)
    assert.deepEqual([...swarm.peers.keys()].sort(), [a.peer.toString(), b.peer.toString()].sort())
    assert.ok(a.listening != null && b.listening != null, 'both streams are read by the one swarm')
    assert.ok(!a.closed && !b.closed)
  })

  it('a download joining and leaving a seeding swarm again and again adds one idle listener, not one per release', async () => {
    answer.resolve(true)
    inbound(channel(await newPeer(), root))
    await new Promise(resolve => setImmediate(resolve))
    const swarm = registry.get(root)!
    for (let i = 0; i < 50; i++) registry.release(registry.join(root))
    assert.equal(registry.get(root), swarm)
    assert.equal(swarm.listenerCount('peer:gone'), 1)
  })
})
