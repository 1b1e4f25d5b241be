import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { Request, Response } from '../../src/protocol/blocks.js'
import { decodeRequest, decodeResponse, encodeBlockResponse, encodeRequest, encodeResponse } from '../../src/protocol/codec.js'
import { MAX_CIDS_PER_REQUEST } from '../../src/protocol/constants.js'

function body (framed: Uint8ArrayList): Uint8Array {
  const bytes = framed.subarray()
  const len = varint.decode(bytes)
  assert.equal(bytes.length, varint.encodingLength(len) + len, 'the length prefix covers the body exactly')
  return bytes.subarray(varint.encodingLength(len))
}

describe('protocol: block messages', () => {
  it('round-trips requests and responses', () => {
    const want = [randomBytes(36), randomBytes(36)]
    const req = decodeRequest(body(encodeRequest({ want, cancel: [want[0]] })))
    assert.deepEqual(req.want.map(b => Buffer.from(b)), want)
    assert.equal(req.cancel.length, 1)
    const data = randomBytes(5000)
    const res = decodeResponse(body(encodeResponse({ blocks: [{ cid: want[0], data }], dontHave: [want[1]] })))
    assert.deepEqual(Buffer.from(res.blocks[0].data), data)
    assert.deepEqual(Buffer.from(res.dontHave[0]), want[1])
  })

  it('a one-block response framed without copying the block is byte for byte what protons encodes', () => {
    for (const size of [0, 1, 127, 128, 16_383, 16_384, 1024 * 1024, 4 * 1024 * 1024]) {
      const cid = randomBytes(36)
      const data = randomBytes(size)
      const framed = encodeBlockResponse(cid, data)
      assert.deepEqual(Buffer.from(framed.subarray()), Buffer.from(encodeResponse({ blocks: [{ cid, data }] }).subarray()), `${size} bytes`)
      const res = decodeResponse(body(framed))
      assert.deepEqual(Buffer.from(res.blocks[0].data), data)
    }
  })

  it('refuses a request naming too many CIDs', () => {
    const want = Array.from({ length: MAX_CIDS_PER_REQUEST + 1 }, () => randomBytes(36))
    const bytes = Request.encode({ want, cancel: [] })
    assert.throws(() => decodeRequest(bytes), { name: 'ProtocolViolationError' })
  })

  it('refuses garbage with a typed error', () => {
    assert.throws(() => decodeRequest(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0x0f])), { name: 'ProtocolViolationError' })
    assert.throws(() => decodeResponse(Uint8Array.from([0x0a, 0x05, 0x01])), { name: 'ProtocolViolationError' })
  })

  it('ignores unknown fields (room for later versions)', () => {
    const known = Response.encode({ blocks: [], dontHave: [randomBytes(4)] })
    const withExtra = Uint8Array.from([...known, 0x78, 0x01]) // field 15, varint 1
    assert.equal(decodeResponse(withExtra).dontHave.length, 1)
  })
})

describe('protocol: frame decoder', () => {
  it('splits frames across and within chunks, however large the chunk', async () => {
    const { FrameDecoder } = await import('../../src/protocol/frame-decoder.js')
    const bodies = [randomBytes(300), randomBytes(1), randomBytes(70_000), randomBytes(5)]
    const stream = Buffer.concat(bodies.flatMap(b => [Buffer.from(varint.encode(b.length)), b]))
    const d = new FrameDecoder(100_000)
    const out: Buffer[] = []
    // one chunk far larger than the frame limit (many frames at once) …
    for (const f of d.decode(Buffer.concat([stream, stream, stream]))) out.push(Buffer.from(f.subarray()))
    // … and byte by byte
    for (const byte of stream) for (const f of d.decode(Uint8Array.of(byte))) out.push(Buffer.from(f.subarray()))
    assert.deepEqual(out, [...bodies, ...bodies, ...bodies, ...bodies])
  })

  it('refuses a length prefix claiming more than the limit, before the body arrives', async () => {
    const { FrameDecoder } = await import('../../src/protocol/frame-decoder.js')
    const d = new FrameDecoder(1000)
    assert.throws(() => [...d.decode(varint.encode(4 * 1024 ** 3))], { name: 'ProtocolViolationError' })
    const bad = new FrameDecoder(1000)
    assert.throws(() => [...bad.decode(new Uint8Array(12).fill(0xff))], { name: 'ProtocolViolationError' })
  })
})
