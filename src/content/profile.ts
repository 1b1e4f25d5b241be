import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import type { ImporterOptions } from 'ipfs-unixfs-importer'

/** 1 MiB: the chunk size of the unixfs-v1-2025 profile. */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024

/** Smallest and largest chunk sizes Shoal accepts (the block protocol bounds messages by the latter). */
export const MIN_CHUNK_SIZE = 1024
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024

/**
 * Importer options for the interoperable `unixfs-v1-2025` profile (IPIP-499):
 * CIDv1, raw leaves, sha2-256, balanced layout with up to 1024 links per node
 * and fixed-size chunks. With the default chunk size a root CID equals the one
 * Helia and Kubo produce for the same bytes.
 */
export function importerOptions (chunkSize: number = DEFAULT_CHUNK_SIZE): ImporterOptions {
  return {
    profile: 'unixfs-v1-2025',
    chunker: fixedSize({ chunkSize }),
    // one leaf file is its own root, as in every current implementation
    reduceSingleLeafToSelf: true,
    wrapWithDirectory: false
  }
}
