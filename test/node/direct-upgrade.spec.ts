import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { DirectUpgrade } from '../../src/node/direct-upgrade.js'
import type { DirectUpgradeComponents } from '../../src/node/direct-upgrade.js'
import type { Libp2pEvents, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const RELAYED = '/ip4/11.0.0.1/tcp/4401/p2p/12D3KooWGFss5JaMZ9sQwA6p6gqwJdGFbgjEAqiMDYEWzM6FP8uh/p2p-circuit'

interface FakeConn { remoteAddr: Multiaddr, status: string, streams: unknown[], closed: boolean, close(): Promise<void>, abort(): void }

function conn (addr: string): FakeConn {
  return { remoteAddr: multiaddr(addr), status: 'open', streams: [], closed: false, async close () { this.closed = true }, abort () { this.closed = true } }
}

/** A DirectUpgrade over stand-ins for libp2p's components; `dial` answers its dials. */
function upgraderWith (connections: FakeConn[], dial: (addrs: Multiaddr[]) => Promise<FakeConn>): { events: TypedEventEmitter<Libp2pEvents>, dialled: Multiaddr[][], stop(): void } {
  const events = new TypedEventEmitter<Libp2pEvents>()
  const dialled: Multiaddr[][] = []
  const components = {
    events,
    connectionManager: {
      getConnections: () => connections,
      openConnection: async (addrs: Multiaddr[]) => {
        dialled.push(addrs)
        const c = await dial(addrs)
        connections.push(c)
        return c
      }
    },
    transportManager: { dialTransportForMultiaddr: () => ({}) },
    logger: defaultLogger()
  } as unknown as DirectUpgradeComponents
  const u = new DirectUpgrade(components, { idleCheck: 10 })
  u.start()
  return { events, dialled, stop: () => { u.stop() } }
}

function update (events: TypedEventEmitter<Libp2pEvents>, id: PeerId, addrs: string[]): void {
  events.safeDispatchEvent('peer:update', { detail: { peer: { id, addresses: addrs.map(a => ({ multiaddr: multiaddr(a), isCertified: false })) } } as any })
}

async function settled (): Promise<void> { await new Promise(resolve => setImmediate(resolve)) }

describe('node: direct upgrade of relayed connections', () => {
  it('a peer reached through a relay that gains a public address is dialled there, and the relayed connection is closed once its streams have ended', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const relayed = conn(`${RELAYED}/p2p/${peer.toString()}`)
    const { events, dialled, stop } = upgraderWith([relayed], async addrs => conn(addrs[0].toString()))
    try {
      // private addresses and relayed ones are nothing to dial
      update(events, peer, ['/ip4/192.168.1.20/tcp/4401', `${RELAYED}/p2p/${peer.toString()}`])
      await settled()
      assert.equal(dialled.length, 0)
      update(events, peer, ['/ip4/192.168.1.20/tcp/4401', '/ip4/11.0.0.9/tcp/4401'])
      await settled()
      assert.deepEqual(dialled.map(d => d.map(a => a.toString())), [['/ip4/11.0.0.9/tcp/4401']])
      // a stream still runs on the relayed connection (a transfer under way): it stays open until that ends
      relayed.streams.push({})
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.equal(relayed.closed, false)
      relayed.streams.pop()
      await new Promise(resolve => setTimeout(resolve, 50))
      assert.equal(relayed.closed, true)
    } finally {
      stop()
    }
  })

  it('a peer already reached directly is left alone; an address that failed is not dialled again on every update', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const direct = upgraderWith([conn(`${RELAYED}/p2p/${peer.toString()}`), conn('/ip4/11.0.0.9/tcp/4401')], async addrs => conn(addrs[0].toString()))
    update(direct.events, peer, ['/ip4/11.0.0.9/tcp/4401'])
    await settled()
    assert.equal(direct.dialled.length, 0)
    direct.stop()

    const relayed = conn(`${RELAYED}/p2p/${peer.toString()}`)
    const failing = upgraderWith([relayed], async () => { throw new Error('connection refused') })
    try {
      for (let i = 0; i < 5; i++) {
        update(failing.events, peer, ['/ip4/11.0.0.9/tcp/4401'])
        await settled()
      }
      assert.equal(failing.dialled.length, 1)
      assert.equal(relayed.closed, false)
      // a new address is worth a dial
      update(failing.events, peer, ['/ip4/11.0.0.9/tcp/4401', '/ip4/11.0.0.10/tcp/4401'])
      await settled()
      assert.deepEqual(failing.dialled.map(d => d.map(a => a.toString())), [['/ip4/11.0.0.9/tcp/4401'], ['/ip4/11.0.0.10/tcp/4401']])
    } finally {
      failing.stop()
    }
  })
})
