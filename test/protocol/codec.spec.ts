import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { Request, Response } from '../../src/protocol/pb/blocks.js'
import { decodeRequest, decodeResponse, encodeBlockResponse, encodeRequest, encodeResponse } from '../../src/protocol/codec.js'
import { MAX_CIDS_PER_REQUEST } from '../../src/protocol/constants.js'

/** A block's data as one buffer, however it was decoded. */
function joined (data: Uint8Array | Uint8ArrayList): Buffer {
  return Buffer.from(data instanceof Uint8ArrayList ? data.subarray() : data)
}

/** `bytes` as a list of pieces of `size` bytes, the way a stream delivers a frame. */
function pieces (bytes: Uint8Array, size: number): Uint8ArrayList {
  const list = new Uint8ArrayList()
  for (let i = 0; i < bytes.byteLength; i += size) list.append(bytes.subarray(i, i + size))
  return list
}

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
    assert.deepEqual(joined(res.blocks[0].data), data)
    assert.deepEqual(Buffer.from(res.dontHave[0]), want[1])
  })

  it('a one-block response framed without copying the block is byte for byte what protons encodes', () => {
    for (const size of [0, 1, 127, 128, 16_383, 16_384, 1024 * 1024, 4 * 1024 * 1024]) {
      const cid = randomBytes(36)
      const data = randomBytes(size)
      const framed = encodeBlockResponse(cid, data)
      assert.deepEqual(Buffer.from(framed.subarray()), Buffer.from(encodeResponse({ blocks: [{ cid, data }] }).subarray()), `${size} bytes`)
      const res = decodeResponse(body(framed))
      assert.deepEqual(joined(res.blocks[0].data), data)
    }
  })

  it('a one-block response that arrived in pieces is decoded without joining them', () => {
    const cid = randomBytes(36)
    const data = randomBytes(1024 * 1024)
    const res = decodeResponse(pieces(body(encodeBlockResponse(cid, data)), 65_536))
    assert.equal(res.blocks.length, 1)
    assert.deepEqual(Buffer.from(res.blocks[0].cid), cid)
    const got = res.blocks[0].data
    assert.ok(got instanceof Uint8ArrayList, 'the data is the received pieces')
    assert.ok([...got].length >= 16, 'still in pieces')
    assert.deepEqual(Buffer.from(got.subarray()), data)
  })

  it('a response in pieces that is not one block as Shoal frames it decodes as protons decodes it', () => {
    const cid = randomBytes(36)
    const data = randomBytes(3000)
    const bodies = [
      // a block and a "don't have"
      Response.encode({ blocks: [{ cid, data }], dontHave: [randomBytes(36)] }),
      // two blocks
      Response.encode({ blocks: [{ cid, data }, { cid, data: data.subarray(1) }], dontHave: [] }),
      // data before cid
      Uint8Array.from([0x0a, ...varint.encode(1 + 2 + data.length + 2 + 36), 0x12, ...varint.encode(data.length), ...data, 0x0a, 36, ...cid]),
      // a padded length prefix (0x84 0x00 is 4)
      Uint8Array.from([0x0a, 0x84, 0x00, 0x0a, 0x00, 0x12, 0x00])
    ]
    for (const [i, b] of bodies.entries()) {
      const whole = decodeResponse(b)
      const split = decodeResponse(pieces(b, 100))
      assert.deepEqual(split.blocks.map(x => [Buffer.from(x.cid), joined(x.data)]), whole.blocks.map(x => [Buffer.from(x.cid), joined(x.data)]), `body ${i}`)
      assert.deepEqual(split.dontHave.map(x => Buffer.from(x)), whole.dontHave.map(x => Buffer.from(x)), `body ${i}`)
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
