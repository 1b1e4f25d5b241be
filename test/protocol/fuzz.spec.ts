import assert from 'node:assert/strict'
import fc from 'fast-check'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeCID } from '../../src/content/dag.js'
import { ProtocolViolationError } from '../../src/errors.js'
import { Request, Response } from '../../src/protocol/pb/blocks.js'
import { decodeRequest, decodeResponse, encodeBlockResponse, frame } from '../../src/protocol/codec.js'
import { FrameDecoder } from '../../src/protocol/frame-decoder.js'
import { ReplicaOp, ReplicaState, decodeReplicaMessage } from '../../src/protocol/replica-network.js'
import { ReplicaMessage } from '../../src/protocol/pb/replica.js'
import { decodeSwarmMessage } from '../../src/protocol/swarm-network.js'
import { SwarmMessage } from '../../src/protocol/pb/swarm.js'

/** Runs per property: brief in the suite, `npm run fuzz` sets FUZZ_RUNS much higher. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300)

const bytes = fc.uint8Array({ maxLength: 2048 })

/** Either a message or a ProtocolViolationError: never another error, never a crash. */
function decodesOrRefuses (decode: (buf: Uint8Array) => unknown): (buf: Uint8Array) => void {
  return buf => {
    try {
      decode(buf)
    } catch (err) {
      assert.ok(err instanceof ProtocolViolationError, `unexpected ${(err as Error).name}: ${(err as Error).message}`)
    }
  }
}

/** Truncate a valid encoding, or flip some of its bytes. */
function mutations (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 8 }), fc.option(fc.nat()))
    .map(([buf, flips, cut]) => {
      const out = Uint8Array.from(buf)
      for (const [at, x] of flips) if (out.length > 0) out[at % out.length] ^= x
      return cut == null || out.length === 0 ? out : out.subarray(0, cut % out.length)
    })
}

const cidBytes = fc.uint8Array({ minLength: 34, maxLength: 40 })
const validRequest = fc.record({ want: fc.array(cidBytes, { maxLength: 20 }), cancel: fc.array(cidBytes, { maxLength: 20 }) })
  .map(r => Request.encode(r))
const validResponse = fc.record({
  blocks: fc.array(fc.record({ cid: cidBytes, data: fc.uint8Array({ maxLength: 512 }) }), { maxLength: 4 }),
  dontHave: fc.array(cidBytes, { maxLength: 20 })
}).map(r => Response.encode(r))
const validSwarm = fc.record({
  root: cidBytes,
  complete: fc.boolean(),
  leafCount: fc.nat({ max: 4096 }),
  bitfield: fc.uint8Array({ maxLength: 512 }),
  have: fc.array(fc.nat({ max: 4096 }), { maxLength: 64 }),
  peers: fc.array(fc.record({ id: fc.uint8Array({ maxLength: 40 }), addrs: fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 4 }) }), { maxLength: 4 }),
  leaving: fc.boolean()
}).map(m => SwarmMessage.encode(m as SwarmMessage))
const validReplica = fc.record({
  op: fc.constantFrom(ReplicaOp.STATUS, ReplicaOp.REPLICATE, ReplicaOp.RELEASE, ReplicaOp.LEAVING),
  roots: fc.array(fc.record({
    root: cidBytes,
    min: fc.nat({ max: 100 }),
    max: fc.nat({ max: 100 }),
    size: fc.bigInt({ min: 0n, max: 2n ** 63n }),
    state: fc.constantFrom(ReplicaState.NONE, ReplicaState.FETCHING, ReplicaState.COMPLETE, ReplicaState.DECLINED),
    holders: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
    reason: fc.string({ maxLength: 20 }),
    intentSince: fc.bigInt({ min: 0n, max: 2n ** 63n }),
    bytesHeld: fc.bigInt({ min: 0n, max: 2n ** 63n }),
    digest: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    absent: fc.array(fc.record({ peer: fc.uint8Array({ maxLength: 40 }), downFor: fc.bigInt({ min: 0n, max: 2n ** 63n }), fragment: fc.nat({ max: 70 }) }), { maxLength: 4 }),
    erasureK: fc.nat({ max: 70 }),
    erasureM: fc.nat({ max: 70 }),
    layout: cidBytes,
    fragment: fc.nat({ max: 70 }),
    holderFragments: fc.array(fc.nat({ max: 70 }), { maxLength: 8 })
  }), { maxLength: 8 }),
  proof: fc.uint8Array({ maxLength: 32 }),
  sync: fc.option(fc.record({
    reset: fc.boolean(),
    dropped: fc.array(cidBytes, { maxLength: 8 }),
    reachable: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }),
    digest: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    kept: fc.nat()
  }), { nil: undefined })
})

describe('protocol: fuzzing the decoders', () => {
  const decoders: Array<[string, (buf: Uint8Array) => unknown, fc.Arbitrary<Uint8Array>]> = [
    ['block Request', decodeRequest, validRequest],
    ['block Response', decodeResponse, validResponse],
    ['SwarmMessage', decodeSwarmMessage, validSwarm],
    ['ReplicaMessage', decodeReplicaMessage, validReplica.map(m => ReplicaMessage.encode(m))]
  ]

  for (const [name, decode, valid] of decoders) {
    it(`${name}: random bytes decode or are refused with a ProtocolViolationError`, () => {
      fc.assert(fc.property(bytes, decodesOrRefuses(decode)), { numRuns: RUNS })
    })

    it(`${name}: truncated and corrupted valid messages decode or are refused`, () => {
      fc.assert(fc.property(mutations(valid), decodesOrRefuses(decode)), { numRuns: RUNS })
    })
  }

  it('block Response: decoded in the pieces a stream cut it into, exactly as protons decodes it whole (or refused alike)', () => {
    // one block as Shoal frames it (the path that keeps the pieces), and any other Response
    const oneBlock = fc.tuple(cidBytes, fc.uint8Array({ minLength: 1, maxLength: 4096 }))
      .map(([cid, data]) => { const f = encodeBlockResponse(cid, data).subarray(); return f.subarray(varint.encodingLength(varint.decode(f))) })
    const outcome = (decode: () => ReturnType<typeof decodeResponse>): unknown => {
      try {
        const r = decode()
        const join = (d: Uint8Array | Uint8ArrayList): number[] => [...(d instanceof Uint8ArrayList ? d.subarray() : d)]
        return { blocks: r.blocks.map(b => [[...b.cid], join(b.data)]), dontHave: r.dontHave.map(d => [...d]) }
      } catch (err) {
        assert.ok(err instanceof ProtocolViolationError, `unexpected ${(err as Error).name}`)
        return 'refused'
      }
    }
    fc.assert(fc.property(mutations(fc.oneof(oneBlock, validResponse)), fc.array(fc.nat(), { maxLength: 6 }), (buf, cuts) => {
      const list = new Uint8ArrayList()
      let at = 0
      for (const cut of [...cuts.map(c => c % (buf.length + 1))].sort((a, b) => a - b)) {
        list.append(buf.subarray(at, Math.max(at, cut)))
        at = Math.max(at, cut)
      }
      list.append(buf.subarray(at))
      assert.deepEqual(outcome(() => decodeResponse(list)), outcome(() => decodeResponse(Uint8Array.from(buf))))
    }), { numRuns: RUNS })
  })

  it('ReplicaMessage round-trips', () => {
    fc.assert(fc.property(validReplica, msg => {
      const decoded = decodeReplicaMessage(ReplicaMessage.encode(msg))
      assert.equal(decoded.op, msg.op)
      assert.equal(decoded.roots.length, msg.roots.length)
      decoded.roots.forEach((r, i) => {
        assert.deepEqual(r.root, msg.roots[i].root)
        assert.equal(r.size, msg.roots[i].size)
        assert.equal(r.reason, msg.roots[i].reason)
        assert.equal(r.intentSince, msg.roots[i].intentSince)
        assert.equal(r.bytesHeld, msg.roots[i].bytesHeld)
        // a fixed64 reads back signed
        assert.equal(BigInt.asUintN(64, r.digest), msg.roots[i].digest)
        assert.deepEqual(r.absent, msg.roots[i].absent.map(a => ({ ...a })))
      })
      assert.deepEqual(decoded.sync == null ? undefined : { ...decoded.sync, digest: BigInt.asUintN(64, decoded.sync.digest) }, msg.sync == null ? undefined : { ...msg.sync })
    }), { numRuns: RUNS })
  })

  it('binary CIDs from the wire: a CID or an InvalidCIDError', () => {
    fc.assert(fc.property(bytes, buf => {
      try {
        decodeCID(buf)
      } catch (err) {
        assert.equal((err as Error).name, 'InvalidCIDError')
      }
    }), { numRuns: RUNS })
  })

  it('the frame decoder yields the same frames however the stream is cut, and never a frame over the limit', () => {
    const frames = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 })
    fc.assert(fc.property(frames, fc.array(fc.nat({ max: 64 }), { maxLength: 20 }), (bodies, cuts) => {
      const stream = new Uint8ArrayList(...bodies.map(b => frame(b).subarray()))
      const all = stream.subarray()
      const decoder = new FrameDecoder(300)
      const out: Uint8Array[] = []
      let at = 0
      for (const cut of [...cuts, all.length]) {
        const end = Math.min(all.length, at + cut)
        for (const f of decoder.decode(all.subarray(at, end))) out.push(f.subarray())
        at = end
      }
      assert.deepEqual(out.map(b => Buffer.from(b).toString('hex')), bodies.map(b => Buffer.from(b).toString('hex')))
    }), { numRuns: RUNS })
    fc.assert(fc.property(bytes, buf => {
      const decoder = new FrameDecoder(100)
      try {
        for (const f of decoder.decode(buf)) assert.ok(f.byteLength <= 100)
      } catch (err) {
        assert.ok(err instanceof ProtocolViolationError)
      }
    }), { numRuns: RUNS })
  })
})
