import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { defaultConfig } from '../../src/config/schema.js'
import { createShoalLibp2p } from '../../src/node/create-libp2p.js'
import { shoalNoise } from '../../src/node/encryption.js'
import { loopbackHost } from '../helpers/cli.js'
import type { Libp2p } from '@libp2p/interface'

const ECHO = '/shoal-test/echo/1.0.0'

/** A bare libp2p node with one encrypter that echoes every stream of ECHO back. */
async function echoNode (encrypter: ReturnType<typeof noise>): Promise<Libp2p> {
  const node = await createLibp2p({
    addresses: { listen: [`/ip4/${loopbackHost()}/tcp/0`] },
    transports: [tcp()],
    connectionEncrypters: [encrypter],
    streamMuxers: [yamux()]
  })
  await node.handle(ECHO, async stream => {
    for await (const buf of stream) {
      if (!stream.send(buf.subarray())) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
    }
    await stream.close()
  })
  return node
}

/** Sends `data` through `from`'s connection to `to` and back: both ends seal and open frames of every size. */
async function echo (from: Libp2p, to: Libp2p, data: Uint8Array): Promise<Uint8Array> {
  const stream = await from.dialProtocol(to.getMultiaddrs()[0], ECHO)
  const reading = (async () => {
    const parts: Uint8Array[] = []
    for await (const buf of stream) parts.push(buf.subarray())
    return Buffer.concat(parts)
  })()
  // small and large writes: frames below noise's 1 200-byte switch and full 64 KiB ones
  for (let at = 0; at < data.byteLength;) {
    const size = at % 3 === 0 ? 100 : 200_000
    if (!stream.send(data.subarray(at, at + size))) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
    at += size
  }
  await stream.close()
  return await reading
}

async function shoalNode (): Promise<Libp2p> {
  const config = { ...defaultConfig(), listen: [`/ip4/${loopbackHost()}/tcp/0`], upnp: false, webui: '' }
  const node = await createShoalLibp2p({ privateKey: await generateKeyPair('Ed25519'), datastore: new MemoryDatastore(), config })
  await node.start()
  return node
}

describe('node: connection encryption', function () {
  this.timeout(60_000)
  const nodes: Libp2p[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

  it('noise with each session key imported once speaks the same wire format as stock noise, whichever side dials', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 11)
    for (const [dialler, listener] of [[shoalNoise(), noise()], [noise(), shoalNoise()]]) {
      const a = await echoNode(dialler)
      const b = await echoNode(listener)
      nodes.push(a, b)
      const back = await echo(a, b, data)
      assert.equal(a.getConnections(b.peerId)[0].encryption, '/noise')
      assert.ok(Buffer.from(back).equals(data), `echoed ${back.byteLength} of ${data.byteLength} bytes`)
    }
  })

  it('a frame altered on the way is refused, not opened', async () => {
    const { cachedKeyCrypto } = await import('../../src/node/encryption.js')
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const sealed = Buffer.from(cachedKeyCrypto.chaCha20Poly1305Encrypt(randomBytes(64 * 1024), nonce, new Uint8Array(0), key).subarray())
    sealed[1000] ^= 1
    assert.throws(() => cachedKeyCrypto.chaCha20Poly1305Decrypt(sealed, nonce, new Uint8Array(0), key))
  })

  it('two Shoal peers end on TLS; a Shoal peer and a noise-only peer end on noise, whichever dials', async () => {
    const a = await shoalNode()
    const b = await shoalNode()
    const other = await echoNode(noise())
    nodes.push(a, b, other)
    // the dialler's connection names what both ends agreed on
    assert.equal((await a.dial(b.getMultiaddrs()[0])).encryption, '/tls/1.0.0')
    assert.equal((await a.dial(other.getMultiaddrs()[0])).encryption, '/noise')
    assert.equal((await other.dial(b.getMultiaddrs()[0])).encryption, '/noise')
  })
})
