import { createHash } from 'node:crypto'
import { sha256 } from 'multiformats/hashes/sha2'
import { Uint8ArrayList } from 'uint8arraylist'
import { equals } from 'uint8arrays/equals'
import { BlockVerificationError, UnsupportedHashError } from '../errors.js'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'

/**
 * A block whose bytes have been hashed and found to match its CID. Only
 * `verifyBlock` makes one (and `reverifiedBlock`, for bytes read again from
 * where verified ones were read), so a function that takes a
 * `VerifiedBlock` cannot be handed unchecked bytes by mistake.
 */
export interface VerifiedBlock {
  readonly cid: CID
  /** The bytes in one buffer (a block that arrived in pieces is joined on first use: prefer `parts`). */
  readonly bytes: Uint8Array
  /** The bytes as they arrived, in order, without joining them. */
  readonly parts: readonly Uint8Array[]
  readonly byteLength: number
  readonly verified: true
}

/**
 * A block verified as it arrived: in the pieces the stream delivered it in
 * (some 64 KiB each). A leaf written into place goes to disk from these
 * pieces, so a 1 MiB leaf is never copied into a buffer of its own.
 */
class ReceivedBlock implements VerifiedBlock {
  readonly verified = true
  private joined?: Uint8Array

  constructor (readonly cid: CID, private readonly list: Uint8ArrayList) {}

  get byteLength (): number {
    return this.list.byteLength
  }

  get parts (): Uint8Array[] {
    return [...this.list]
  }

  get bytes (): Uint8Array {
    this.joined ??= this.list.subarray()
    return this.joined
  }
}

/** Whether Shoal can verify blocks named by this CID. */
function isSupportedCID (cid: CID): boolean {
  return cid.multihash.code === sha256.code
}

/**
 * Hash `bytes` and compare the digest with the one in `cid`.
 * Throws `BlockVerificationError` on mismatch.
 */
export function verifyBlock (cid: CID, bytes: Uint8Array | Uint8ArrayList): VerifiedBlock {
  if (!isSupportedCID(cid)) {
    throw new UnsupportedHashError(`unsupported hash function 0x${cid.multihash.code.toString(16)} in ${cid.toString()}`)
  }
  // node:crypto is several times faster than the WebCrypto path for large inputs
  if (!equals(sha256Of(bytes), cid.multihash.digest)) {
    throw new BlockVerificationError(`block bytes do not match ${cid.toString()}`)
  }
  if (bytes instanceof Uint8ArrayList) return new ReceivedBlock(cid, bytes)
  return { cid, bytes, parts: [bytes], byteLength: bytes.byteLength, verified: true }
}

/**
 * Bytes read again from the very place a `verifyBlock` of the same CID read
 * them, which has provably not changed since (the reference store's
 * `VerifiedLeaves`: same file, same inode, size and times before and after
 * the read). Not for bytes from anywhere else.
 */
export function reverifiedBlock (cid: CID, bytes: Uint8Array): VerifiedBlock {
  return { cid, bytes, parts: [bytes], byteLength: bytes.byteLength, verified: true }
}

function sha256Of (bytes: Uint8Array | Uint8ArrayList): Uint8Array {
  const hash = createHash('sha256')
  if (bytes instanceof Uint8ArrayList) {
    for (const part of bytes) hash.update(part)
  } else {
    hash.update(bytes)
  }
  return hash.digest()
}

/**
 * A block that arrived without its CID, only the CID's prefix (Bitswap):
 * its bytes are hashed and the CID made from the digest, so what it is
 * named is what it holds. Whether anyone wanted that CID is the caller's
 * question. Only sha2-256 is accepted.
 */
export function identifyBlock (version: 0 | 1, codec: number, hashCode: number, bytes: Uint8Array): VerifiedBlock {
  if (hashCode !== sha256.code) {
    throw new UnsupportedHashError(`unsupported hash function 0x${hashCode.toString(16)}`)
  }
  const digest = createDigest(sha256.code, sha256Of(bytes))
  const cid = version === 0 ? CID.createV0(digest as any) : CID.createV1(codec, digest)
  return { cid, bytes, parts: [bytes], byteLength: bytes.byteLength, verified: true }
}
