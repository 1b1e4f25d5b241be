import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import { streamPair } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { RequestChannel } from '../../src/protocol/block-network.js'
import { decodeResponse, encodeBlockResponse } from '../../src/protocol/codec.js'
import { FramedStream } from '../../src/protocol/framed-stream.js'
import type { ProtocolViolationError } from '../../src/errors.js'
import type { VerifiedBlock } from '../../src/content/verify.js'

async function block (n: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(1024).fill(n)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('protocol: a block request channel', () => {
  it('takes the blocks it asked for, drops one cancelled on the way, and counts one nobody asked for against the peer', async () => {
    const [ours, theirs] = await streamPair()
    const [a, b, c] = await Promise.all([1, 2, 3].map(block))
    const got: VerifiedBlock[] = []
    const violations: ProtocolViolationError[] = []
    const paid: number[] = []
    const closed = Promise.withResolvers<Error | undefined>()
    const framed = new FramedStream({
      stream: ours,
      decode: decodeResponse,
      maxMessageSize: 1024 * 1024,
      log: defaultLogger().forComponent('test:request'),
      onViolation: err => { violations.push(err) }
    })
    const channel = new RequestChannel(ours as any, framed, {
      onBlock: b => { got.push(b) },
      onInvalidBlock: () => { assert.fail('no block here is invalid') },
      onDontHave: () => {},
      onClose: err => { closed.resolve(err) }
    }, bytes => { paid.push(bytes); return undefined })
    await channel.want([a.cid, b.cid])
    await channel.cancel([b.cid])
    // a (asked), b (cancelled, already on its way), then c (never asked)
    for (const x of [a, b, c]) theirs.send(encodeBlockResponse(x.cid.bytes, x.bytes))
    const err = await closed.promise
    assert.deepEqual(got.map(x => x.cid.toString()), [a.cid.toString()])
    assert.equal(paid.length, 1, 'only the block asked for is paid for under the download limit')
    assert.equal(violations.length, 1)
    assert.equal(violations[0].kind, 'unsolicited')
    assert.ok(err != null)
    assert.notEqual(ours.status, 'open')
  })
})
