import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { decodeCID } from '../content/dag.js'
import { identifyBlock } from '../content/verify.js'
import { ProtocolViolationError } from '../errors.js'
import { BitswapMessage, BlockPresenceType, WantType } from './pb/bitswap.js'
import { frame } from './codec.js'
import { BITSWAP_MAX_ENTRIES } from './constants.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { CID } from 'multiformats/cid'

const DAG_PB = 0x70
const SHA2_256 = 0x12

/** A Bitswap message as Shoal acts on it: CIDs decoded, blocks hashed and named. */
export interface ReceivedBitswap {
  want: CID[]
  /** Of `want`, those whose sender asked to hear "don't have". */
  wantDontHave: Set<string>
  have: CID[]
  haveDontHave: Set<string>
  cancel: CID[]
  /** The sender's whole want list (what it wanted before and left out is cancelled). */
  full: boolean
  blocks: VerifiedBlock[]
  /** Blocks whose prefix named a hash we cannot check. */
  unverifiable: number
  /** Blocks left unread (not hashed): the reader asked the sender for nothing. */
  unread: number
  has: CID[]
  dontHave: CID[]
}

/** A CID's prefix as Bitswap 1.1+ sends it: version, codec, hash code, digest length (varints). */
export function cidPrefix (cid: CID): Uint8Array {
  return new Uint8ArrayList(
    varint.encode(cid.version), varint.encode(cid.code),
    varint.encode(cid.multihash.code), varint.encode(cid.multihash.size)
  ).subarray()
}

function parsePrefix (prefix: Uint8Array): { version: 0 | 1, codec: number, hash: number } {
  const version = varint.decode(prefix, 0)
  let at = varint.encodingLength(version)
  const codec = varint.decode(prefix, at)
  at += varint.encodingLength(codec)
  const hash = varint.decode(prefix, at)
  if (version !== 0 && version !== 1) throw new ProtocolViolationError(`block prefix names CID version ${version}`)
  return { version, codec, hash }
}

/**
 * Decode a framed Bitswap message; every block is hashed here, so what
 * leaves this function is verified. With `readBlocks` false (the sender was
 * asked for nothing) blocks are only counted (`unread`), not hashed.
 */
export function decodeBitswap (buf: Uint8Array | Uint8ArrayList, readBlocks = true): ReceivedBitswap {
  let msg: BitswapMessage
  try {
    msg = BitswapMessage.decode(buf, {
      limits: { blocks: BITSWAP_MAX_ENTRIES, payload: BITSWAP_MAX_ENTRIES, blockPresences: BITSWAP_MAX_ENTRIES, wantlist: { entries: BITSWAP_MAX_ENTRIES } }
    })
  } catch (err: any) {
    throw new ProtocolViolationError(`malformed bitswap message: ${err.message}`)
  }
  const out: ReceivedBitswap = { want: [], wantDontHave: new Set(), have: [], haveDontHave: new Set(), cancel: [], full: msg.wantlist?.full === true, blocks: [], unverifiable: 0, unread: 0, has: [], dontHave: [] }
  try {
    for (const entry of msg.wantlist?.entries ?? []) {
      const cid = decodeCID(entry.block)
      if (entry.cancel) {
        out.cancel.push(cid)
      } else if (entry.wantType === WantType.WantHave) {
        out.have.push(cid)
        if (entry.sendDontHave) out.haveDontHave.add(cid.toString())
      } else {
        out.want.push(cid)
        if (entry.sendDontHave) out.wantDontHave.add(cid.toString())
      }
    }
    if (!readBlocks) {
      out.unread = msg.blocks.length + msg.payload.length
      msg.blocks = []
      msg.payload = []
    }
    for (const data of msg.blocks) out.blocks.push(identifyBlock(0, DAG_PB, SHA2_256, data))
    for (const block of msg.payload) {
      const { version, codec, hash } = parsePrefix(block.prefix)
      if (hash !== SHA2_256) {
        out.unverifiable++
        continue
      }
      out.blocks.push(identifyBlock(version, codec, hash, block.data))
    }
    for (const p of msg.blockPresences) {
      const cid = decodeCID(p.cid)
      if (p.type === BlockPresenceType.DoNotHaveBlock) out.dontHave.push(cid)
      else out.has.push(cid)
    }
  } catch (err: any) {
    throw err instanceof ProtocolViolationError ? err : new ProtocolViolationError(`malformed bitswap message: ${err.message}`)
  }
  return out
}

/** A want list update: blocks wanted (best first, each with "don't have" asked for), cancels. */
export function encodeWantlist (want: CID[], cancel: CID[]): Uint8ArrayList {
  const entries = [
    ...want.map((cid, i) => ({ block: cid.bytes, priority: want.length - i, cancel: false, wantType: WantType.WantBlock, sendDontHave: true })),
    ...cancel.map(cid => ({ block: cid.bytes, priority: 0, cancel: true, wantType: WantType.WantBlock, sendDontHave: false }))
  ]
  return frame(BitswapMessage.encode({ wantlist: { entries, full: false }, blocks: [], payload: [], blockPresences: [], pendingBytes: 0 }))
}

export function encodePresences (have: CID[], dontHave: CID[]): Uint8ArrayList {
  const blockPresences = [
    ...have.map(cid => ({ cid: cid.bytes, type: BlockPresenceType.HaveBlock })),
    ...dontHave.map(cid => ({ cid: cid.bytes, type: BlockPresenceType.DoNotHaveBlock }))
  ]
  return frame(BitswapMessage.encode({ blocks: [], payload: [], blockPresences, pendingBytes: 0 }))
}

/**
 * A message holding one block, framed, the block's bytes referenced rather
 * than copied (the protobuf header is written by hand in front of them):
 * Bitswap 1.1+ as `payload` (prefix, data), 1.0.0 as `blocks` (bytes only).
 */
export function encodeBitswapBlock (block: VerifiedBlock, legacy: boolean): Uint8ArrayList {
  const data = block.parts
  const size = block.byteLength
  if (legacy) {
    const length = 1 + varint.encodingLength(size) + size
    return new Uint8ArrayList(varint.encode(length), Uint8Array.of(0x12), varint.encode(size), ...data)
  }
  const prefix = cidPrefix(block.cid)
  const inner = 1 + varint.encodingLength(prefix.byteLength) + prefix.byteLength + 1 + varint.encodingLength(size) + size
  const length = 1 + varint.encodingLength(inner) + inner
  return new Uint8ArrayList(
    varint.encode(length),
    Uint8Array.of(0x1a), varint.encode(inner),
    Uint8Array.of(0x0a), varint.encode(prefix.byteLength), prefix,
    Uint8Array.of(0x12), varint.encode(size), ...data
  )
}
