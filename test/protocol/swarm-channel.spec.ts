import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import { FrameDecoder } from '../../src/protocol/frame-decoder.js'
import { SwarmChannel, decodeSwarmMessage } from '../../src/protocol/swarm-network.js'
import type { FramedStream } from '../../src/protocol/framed-stream.js'
import type { SwarmMessage } from '../../src/protocol/pb/swarm.js'
import type { Uint8ArrayList } from 'uint8arraylist'

describe('protocol: a swarm channel', () => {
  it('names the root in the first message it sends, whatever that message is (a peer list may overtake the state)', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const root = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('root')))
    const written: Uint8ArrayList[] = []
    const framed = { write: async (data: Uint8ArrayList) => { written.push(data) }, isOpen: true } as unknown as FramedStream<SwarmMessage>
    const channel = new SwarmChannel(peer, root, framed, true)
    await channel.send({ peers: [] })
    await channel.send({ root: root.bytes, complete: true })
    await channel.send({ have: [3] })
    const decoder = new FrameDecoder(1024)
    const messages = written.flatMap(w => [...decoder.decode(w)]).map(f => decodeSwarmMessage(f))
    assert.equal(messages.length, 3)
    assert.ok(CID.decode(messages[0].root).equals(root), 'the first message names the root')
    assert.equal(messages[1].complete, true)
    assert.equal(messages[2].root.byteLength, 0, 'later ones need not')
  })
})
