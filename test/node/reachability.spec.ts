import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { Reachability } from '../../src/node/reachability.js'
import type { ReachabilityComponents } from '../../src/node/reachability.js'
import type { Libp2pEvents, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

const made: Reachability[] = []

/** A Reachability over stand-ins for libp2p's components: events are dispatched by the test, as libp2p would. */
function reachabilityWith (listening: string[], mappings: Array<{ multiaddr: Multiaddr, verified: boolean, type: string }> = []): { r: Reachability, events: TypedEventEmitter<Libp2pEvents> } {
  const events = new TypedEventEmitter<Libp2pEvents>()
  const components = {
    events,
    transportManager: { getAddrs: () => listening.map(a => multiaddr(a)), listen: async () => {} },
    addressManager: { getAddressesWithMetadata: () => mappings },
    connectionManager: { getConnections: () => [] },
    peerStore: { get: async () => { throw new Error('not found') } },
    logger: defaultLogger()
  } as unknown as ReachabilityComponents
  const r = new Reachability(components, { announced: false, maxRelays: 2, isMember: () => false, localAddresses: () => new Set(['192.168.1.13']) })
  r.start()
  r.afterStart()
  made.push(r)
  return { r, events }
}

function identify (events: TypedEventEmitter<Libp2pEvents>, peerId: PeerId, observedAddr: Multiaddr, remoteAddr = '/ip4/203.0.113.9/tcp/4401'): void {
  events.safeDispatchEvent('peer:identify', {
    detail: { peerId, observedAddr, listenAddrs: [], protocols: [], connection: { remoteAddr: multiaddr(remoteAddr), direction: 'outbound' } } as any
  })
}

function inbound (events: TypedEventEmitter<Libp2pEvents>, remoteAddr: string): void {
  events.safeDispatchEvent('connection:open', { detail: { remoteAddr: multiaddr(remoteAddr), direction: 'inbound' } as any })
}

describe('node: reachability', () => {
  afterEach(() => { for (const r of made.splice(0)) r.stop() })

  it('unknown while no peer outside our networks has seen us; private once one sees us at an address that is not ours (a NAT)', async () => {
    const { r, events } = reachabilityWith(['/ip4/192.168.1.13/tcp/4401'])
    const peer = await newPeer()
    assert.equal(r.status().state, 'unknown')
    // seen at our own address (no NAT between), and at loopback: nothing learnt
    identify(events, peer, multiaddr('/ip4/192.168.1.13/tcp/4401'))
    identify(events, peer, multiaddr('/ip4/127.0.0.1/tcp/4401'))
    assert.equal(r.status().state, 'unknown')
    identify(events, peer, multiaddr('/ip4/11.231.7.2/tcp/61000'))
    assert.deepEqual([r.status().state, r.status().reason], ['private', 'behind a NAT: peers see it at /ip4/11.231.7.2/tcp/61000'])
  })

  it('public once a peer outside our private networks dials us directly, or the router forwards a port to us', async () => {
    const { r, events } = reachabilityWith(['/ip4/192.168.1.13/tcp/4401'])
    identify(events, await newPeer(), multiaddr('/ip4/11.231.7.2/tcp/61000'))
    // inbound from a private network (the LAN) or through a relay proves nothing
    inbound(events, '/ip4/192.168.1.20/tcp/50000')
    inbound(events, '/ip4/203.0.113.9/tcp/4401/p2p/12D3KooWGFss5JaMZ9sQwA6p6gqwJdGFbgjEAqiMDYEWzM6FP8uh/p2p-circuit')
    assert.equal(r.status().state, 'private')
    inbound(events, '/ip4/11.0.0.50/tcp/50000')
    assert.deepEqual([r.status().state, r.status().reason], ['public', 'a peer dialled it directly from 11.0.0.50'])

    const mapped = reachabilityWith(['/ip4/192.168.1.13/tcp/4401'], [{ multiaddr: multiaddr('/ip4/11.231.7.2/tcp/4401'), verified: true, type: 'ip-mapping' }])
    mapped.events.safeDispatchEvent('self:peer:update', { detail: {} as any })
    assert.deepEqual([mapped.r.status().state, mapped.r.status().reason], ['public', 'its router forwards /ip4/11.231.7.2/tcp/4401 to it (UPnP)'])
  })

  it('with no address of its own a peer is private', () => {
    const { r } = reachabilityWith(['/ip4/203.0.113.9/tcp/4401/p2p/12D3KooWGFss5JaMZ9sQwA6p6gqwJdGFbgjEAqiMDYEWzM6FP8uh/p2p-circuit'])
    assert.deepEqual([r.status().state, r.status().reason], ['private', 'no address of its own: reachable only through relays'])
  })

  it('what a hostile peer says it sees (no IP at all, a name, a socket path), and connections with no IP address, change nothing and throw nothing', async () => {
    const { r, events } = reachabilityWith(['/ip4/192.168.1.13/tcp/4401'])
    const peer = await newPeer()
    for (const observed of ['/unix/tmp%2Fsock', '/dns4/example.com/tcp/1', `/webrtc/p2p/${peer.toString()}`, '/ip6zone/x/ip6/fe80::1/tcp/1']) {
      identify(events, peer, multiaddr(observed))
    }
    inbound(events, `/webrtc/p2p/${peer.toString()}`)
    inbound(events, '/unix/tmp%2Fsock')
    assert.equal(r.status().state, 'unknown')
  })
})
