import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { verifyBlock } from '../../src/content/verify.js'
import { ProtocolViolationError } from '../../src/errors.js'
import { BitswapMessage, BlockPresenceType, WantType } from '../../src/protocol/pb/bitswap.js'
import { cidPrefix, decodeBitswap, encodeBitswapBlock, encodePresences, encodeWantlist } from '../../src/protocol/bitswap-codec.js'
import { BITSWAP_MAX_ENTRIES } from '../../src/protocol/constants.js'

function body (framed: Uint8ArrayList): Uint8Array {
  const bytes = framed.subarray()
  const len = varint.decode(bytes)
  assert.equal(bytes.length, varint.encodingLength(len) + len, 'the length prefix covers the body exactly')
  return bytes.subarray(varint.encodingLength(len))
}

async function rawBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = randomBytes(size)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('protocol: Bitswap messages', () => {
  it('a block goes out as a 1.2 payload (prefix, data) and comes back named by its own hash', async () => {
    const { cid, bytes } = await rawBlock(100_000)
    const framed = encodeBitswapBlock(verifyBlock(cid, bytes), false)
    const msg = BitswapMessage.decode(body(framed))
    assert.equal(msg.payload.length, 1)
    assert.deepEqual(msg.payload[0].prefix, cidPrefix(cid))
    assert.deepEqual(Buffer.from(msg.payload[0].data), Buffer.from(bytes))
    const back = decodeBitswap(body(framed))
    assert.equal(back.blocks.length, 1)
    assert.ok(back.blocks[0].cid.equals(cid))
  })

  it('to a Bitswap 1.0.0 peer a dag-pb block goes as bare bytes, and bare bytes are named by their CIDv0', async () => {
    const bytes = dagPb.encode(dagPb.prepare({ Data: randomBytes(50), Links: [] }))
    const v1 = CID.createV1(dagPb.code, await sha256.digest(bytes))
    const msg = BitswapMessage.decode(body(encodeBitswapBlock(verifyBlock(v1, bytes), true)))
    assert.equal(msg.payload.length, 0)
    assert.deepEqual(Buffer.from(msg.blocks[0]), Buffer.from(bytes))
    const back = decodeBitswap(body(encodeBitswapBlock(verifyBlock(v1, bytes), true)))
    assert.ok(back.blocks[0].cid.equals(v1.toV0()))
  })

  it('reads want-block, want-have, "send don\'t have", cancels and a full want list', async () => {
    const [a, b, c] = await Promise.all([rawBlock(10), rawBlock(11), rawBlock(12)])
    const bytes = BitswapMessage.encode({
      wantlist: {
        full: true,
        entries: [
          { block: a.cid.bytes, priority: 3, cancel: false, wantType: WantType.WantBlock, sendDontHave: true },
          { block: b.cid.bytes, priority: 2, cancel: false, wantType: WantType.WantHave, sendDontHave: false },
          { block: c.cid.bytes, priority: 1, cancel: true, wantType: WantType.WantBlock, sendDontHave: false }
        ]
      },
      blocks: [],
      payload: [],
      blockPresences: [{ cid: c.cid.bytes, type: BlockPresenceType.DoNotHaveBlock }],
      pendingBytes: 0
    })
    const msg = decodeBitswap(bytes)
    assert.deepEqual(msg.want.map(String), [a.cid.toString()])
    assert.deepEqual([...msg.wantDontHave], [a.cid.toString()])
    assert.deepEqual(msg.have.map(String), [b.cid.toString()])
    assert.equal(msg.haveDontHave.size, 0)
    assert.deepEqual(msg.cancel.map(String), [c.cid.toString()])
    assert.deepEqual(msg.dontHave.map(String), [c.cid.toString()])
    assert.equal(msg.full, true)
  })

  it('what it writes, it reads: want lists (with "send don\'t have" asked) and presences', async () => {
    const [a, b] = await Promise.all([rawBlock(10), rawBlock(11)])
    const wants = decodeBitswap(body(encodeWantlist([a.cid, b.cid], [])))
    assert.deepEqual(wants.want.map(String), [a.cid.toString(), b.cid.toString()])
    assert.equal(wants.wantDontHave.size, 2)
    const entries = BitswapMessage.decode(body(encodeWantlist([a.cid, b.cid], []))).wantlist?.entries ?? []
    assert.ok(entries[0].priority > entries[1].priority, 'best first is the highest priority')
    assert.deepEqual(decodeBitswap(body(encodeWantlist([], [a.cid]))).cancel.map(String), [a.cid.toString()])
    const presences = decodeBitswap(body(encodePresences([a.cid], [b.cid])))
    assert.deepEqual(presences.has.map(String), [a.cid.toString()])
    assert.deepEqual(presences.dontHave.map(String), [b.cid.toString()])
  })

  it('a block under a hash it cannot check is counted and dropped, not trusted', () => {
    const prefix = new Uint8ArrayList(varint.encode(1), varint.encode(raw.code), varint.encode(0x1e), varint.encode(32)).subarray()
    const msg = decodeBitswap(BitswapMessage.encode({ blocks: [], payload: [{ prefix, data: randomBytes(20) }], blockPresences: [], pendingBytes: 0 }))
    assert.equal(msg.blocks.length, 0)
    assert.equal(msg.unverifiable, 1)
  })

  it('refuses garbage, a bad CID, a bad prefix and more entries than allowed, as protocol violations', async () => {
    assert.throws(() => decodeBitswap(Uint8Array.of(0x0a, 0x05, 0x01)), ProtocolViolationError)
    const badCid = BitswapMessage.encode({ wantlist: { full: false, entries: [{ block: Uint8Array.of(1, 2, 3), priority: 1, cancel: false, wantType: WantType.WantBlock, sendDontHave: false }] }, blocks: [], payload: [], blockPresences: [], pendingBytes: 0 })
    assert.throws(() => decodeBitswap(badCid), ProtocolViolationError)
    const badPrefix = BitswapMessage.encode({ blocks: [], payload: [{ prefix: Uint8Array.of(7, 0x55, 0x12, 32), data: randomBytes(4) }], blockPresences: [], pendingBytes: 0 })
    assert.throws(() => decodeBitswap(badPrefix), ProtocolViolationError)
    const { cid } = await rawBlock(1)
    const many = Array.from({ length: BITSWAP_MAX_ENTRIES + 1 }, () => ({ cid: cid.bytes, type: BlockPresenceType.HaveBlock }))
    assert.throws(() => decodeBitswap(BitswapMessage.encode({ blocks: [], payload: [], blockPresences: many, pendingBytes: 0 })), ProtocolViolationError)
  })
})
