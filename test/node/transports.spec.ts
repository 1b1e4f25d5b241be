import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { MemoryDatastore } from 'datastore-core'
import { defaultConfig } from '../../src/config/schema.js'
import { createShoalLibp2p } from '../../src/node/create-libp2p.js'

const SIGNALLING = '/webrtc-signaling/0.0.1'

/** The protocols a started node answers, with `listen` and maybe a swarm key. */
async function protocolsOf (listen: string[], swarmKey?: Uint8Array): Promise<string[]> {
  const config = { ...defaultConfig(), listen, upnp: false, webui: '' }
  const node = await createShoalLibp2p({ privateKey: await generateKeyPair('Ed25519'), datastore: new MemoryDatastore(), config, swarmKey })
  await node.start()
  try {
    return node.getProtocols()
  } finally {
    await node.stop()
  }
}

describe('node: transports for peers behind NAT', () => {
  it('listening beyond loopback a peer takes WebRTC connections through its relays (hole punching); on loopback alone it does not', async () => {
    assert.ok((await protocolsOf(['/ip4/0.0.0.0/tcp/0'])).includes(SIGNALLING))
    assert.ok(!(await protocolsOf(['/ip4/127.0.0.1/tcp/0'])).includes(SIGNALLING))
  })

  it('in a private swarm WebRTC is off: its connections would skip the swarm key', async () => {
    // a libp2p pre-shared key: 32 bytes in the PSK file format
    const key = new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`)
    const protocols = await protocolsOf(['/ip4/0.0.0.0/tcp/0'], key)
    assert.ok(!protocols.includes(SIGNALLING), protocols.join(' '))
    assert.ok(protocols.includes('/ipfs/id/1.0.0'), protocols.join(' '))
  })
})
