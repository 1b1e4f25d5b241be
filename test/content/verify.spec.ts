import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { Uint8ArrayList } from 'uint8arraylist'
import { childLinks, parseCID } from '../../src/content/dag.js'
import { verifyBlock } from '../../src/content/verify.js'

describe('content: block verification', () => {
  it('accepts bytes that hash to the CID', async () => {
    const bytes = randomBytes(1000)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const block = verifyBlock(cid, bytes)
    assert.equal(block.verified, true)
    assert.equal(block.cid, cid)
  })

  it('rejects bytes that do not, with a typed error', async () => {
    const bytes = randomBytes(1000)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const bad = Uint8Array.from(bytes)
    bad[999] ^= 0xff
    assert.throws(() => verifyBlock(cid, bad), { name: 'BlockVerificationError' })
  })

  it('verifies a block in the pieces it arrived in, and keeps them unjoined', async () => {
    const bytes = randomBytes(300_000)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const list = new Uint8ArrayList(bytes.subarray(0, 65_536), bytes.subarray(65_536, 200_000), bytes.subarray(200_000))
    const block = verifyBlock(cid, list)
    assert.equal(block.byteLength, bytes.byteLength)
    assert.equal(block.parts.length, 3)
    assert.deepEqual(Buffer.concat(block.parts), bytes)
    assert.deepEqual(Buffer.from(block.bytes), bytes)
    const bad = Uint8Array.from(bytes.subarray(200_000))
    bad[0] ^= 1
    assert.throws(() => verifyBlock(cid, new Uint8ArrayList(bytes.subarray(0, 200_000), bad)), { name: 'BlockVerificationError' })
  })

  it('rejects hash functions it cannot check', () => {
    const cid = CID.createV1(raw.code, identity.digest(new Uint8Array([1, 2, 3])))
    assert.throws(() => verifyBlock(cid, new Uint8Array([1, 2, 3])), { name: 'UnsupportedHashError' })
  })

  it('parses CIDs and names malformed ones clearly', () => {
    assert.equal(parseCID(' bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy ').toString(), 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    assert.throws(() => parseCID('not-a-cid'), { name: 'InvalidCIDError' })
    assert.throws(() => parseCID('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s5'), { name: 'InvalidCIDError' })
  })

  it('raw blocks have no links', async () => {
    const bytes = randomBytes(10)
    assert.deepEqual(childLinks(CID.createV1(raw.code, await sha256.digest(bytes)), bytes), [])
  })
})
