import { createHash } from 'node:crypto'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { BlockVerificationError, UnsupportedHashError } from '../errors.js'
import type { CID } from 'multiformats/cid'

/**
 * A block whose bytes have been hashed and found to match its CID. Only
 * `verifyBlock` makes one, so a function that takes a `VerifiedBlock` cannot
 * be handed unchecked bytes by mistake.
 */
export interface VerifiedBlock {
  readonly cid: CID
  readonly bytes: Uint8Array
  readonly verified: true
}

/** Whether Shoal can verify blocks named by this CID. */
function isSupportedCID (cid: CID): boolean {
  return cid.multihash.code === sha256.code
}

/**
 * Hash `bytes` and compare the digest with the one in `cid`.
 * Throws `BlockVerificationError` on mismatch.
 */
export function verifyBlock (cid: CID, bytes: Uint8Array): VerifiedBlock {
  if (!isSupportedCID(cid)) {
    throw new UnsupportedHashError(`unsupported hash function 0x${cid.multihash.code.toString(16)} in ${cid.toString()}`)
  }
  // node:crypto is several times faster than the WebCrypto path for large inputs
  const digest = createHash('sha256').update(bytes).digest()
  if (!equals(digest, cid.multihash.digest)) {
    throw new BlockVerificationError(`block bytes do not match ${cid.toString()}`)
  }
  return { cid, bytes, verified: true }
}
