import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * Positions in the DHT's key space, as `@libp2p/kad-dht` computes them: the
 * SHA-256 of a root's multihash, or of a peer's multihash. Replica placement
 * and the leader of a root follow XOR distance here, so any peer can
 * recompute them.
 */
function rootPosition (root: CID): Uint8Array {
  return sha256(root.multihash.bytes)
}

function peerPosition (peer: PeerId): Uint8Array {
  return sha256(peer.toMultihash().bytes)
}

/** Negative if `a` is closer to `target` than `b` (XOR metric), positive if farther. */
function compareDistance (target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const da = a[i] ^ target[i]
    const db = b[i] ^ target[i]
    if (da !== db) return da - db
  }
  return 0
}

/** `peers` sorted closest to `root` first. */
export function byDistance<T extends { peer: PeerId }> (root: CID, peers: T[]): T[] {
  const target = rootPosition(root)
  const positions = new Map(peers.map(p => [p, peerPosition(p.peer)]))
  return [...peers].sort((a, b) => compareDistance(target, positions.get(a)!, positions.get(b)!))
}

function sha256 (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}
