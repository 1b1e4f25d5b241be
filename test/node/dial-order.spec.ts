import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { dialOrder } from '../../src/node/dial-order.js'

const RELAY = '/ip4/11.231.7.2/tcp/4401/p2p/12D3KooWGFss5JaMZ9sQwA6p6gqwJdGFbgjEAqiMDYEWzM6FP8uh/p2p-circuit'
const sorted = (addrs: string[]): string[] => addrs.map(a => ({ multiaddr: multiaddr(a), isCertified: false })).sort(dialOrder).map(a => a.multiaddr.toString())

describe('node: the order a peer\'s addresses are dialled in', () => {
  it('a peer behind a NAT: a hole punched first, the relay next, its LAN addresses (nowhere from elsewhere) and loopback last', () => {
    assert.deepEqual(sorted(['/ip4/127.0.0.1/tcp/4401', '/ip4/192.168.1.13/tcp/4401', RELAY, `${RELAY}/webrtc`]),
      [`${RELAY}/webrtc`, RELAY, '/ip4/192.168.1.13/tcp/4401', '/ip4/127.0.0.1/tcp/4401'])
  })

  it('a peer with no relayed address: public, then private (a LAN), then loopback', () => {
    assert.deepEqual(sorted(['/ip4/127.0.0.1/tcp/4401', '/ip4/192.168.1.13/tcp/4401', '/ip4/11.0.0.5/tcp/4401']),
      ['/ip4/11.0.0.5/tcp/4401', '/ip4/192.168.1.13/tcp/4401', '/ip4/127.0.0.1/tcp/4401'])
  })
})
