import * as dagPb from '@ipld/dag-pb'
import * as raw from 'multiformats/codecs/raw'
import { base32 } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import { InvalidCIDError } from '../errors.js'

/** Codecs that can appear in a UnixFS DAG. */
export const DAG_PB_CODE = dagPb.code
export const RAW_CODE = raw.code

/** Parse a CID string given by a user or a peer; throws InvalidCIDError. */
export function parseCID (text: string): CID {
  try {
    return CID.parse(text.trim())
  } catch (err: any) {
    throw new InvalidCIDError(`not a valid CID: ${JSON.stringify(text)}`)
  }
}

/**
 * A content path as a user writes it: `CID`, `CID/dir/file` or
 * `/ipfs/CID/dir/file`. The path's segments are returned as written
 * (empty ones dropped); throws InvalidCIDError for a bad CID.
 */
export function parseContentPath (text: string): { cid: CID, path: string[] } {
  const trimmed = text.trim()
  const parts = trimmed.replace(/^\/ipfs\//, '').split('/').filter(p => p !== '')
  if (parts.length === 0) throw new InvalidCIDError(`not a valid CID: ${JSON.stringify(text)}`)
  return { cid: parseCID(parts[0]), path: parts.slice(1) }
}

/** Decode a CID received in binary form; throws InvalidCIDError. */
export function decodeCID (bytes: Uint8Array): CID {
  try {
    return CID.decode(bytes)
  } catch {
    throw new InvalidCIDError('malformed binary CID')
  }
}

/**
 * The CIDs a block links to, in DAG order. Raw blocks are leaves. For
 * dag-pb blocks the links are returned in order; anything else is a leaf as
 * far as Shoal is concerned.
 */
export function childLinks (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code !== DAG_PB_CODE) {
    return []
  }
  const node = dagPb.decode(bytes)
  return node.Links.map(link => link.Hash)
}

/**
 * The links of a block with the size each names (dag-pb `Tsize`: the bytes
 * of every block of the child's subtree; for a raw leaf, its length).
 */
export function sizedLinks (cid: CID, bytes: Uint8Array): Array<{ cid: CID, size: number }> {
  if (cid.code !== DAG_PB_CODE) return []
  return dagPb.decode(bytes).Links.map(link => ({ cid: link.Hash, size: link.Tsize ?? 0 }))
}

/**
 * The identity of a block in the store: its multihash. Two CIDs with the same
 * hash but different codecs name the same bytes, and the store keeps one copy.
 */
export function blockKey (cid: CID): string {
  return base32.encode(cid.multihash.bytes)
}

/** Whether a CID names an interior node (which must be fetched before its children are known). */
export function isInterior (cid: CID): boolean {
  return cid.code === DAG_PB_CODE
}
