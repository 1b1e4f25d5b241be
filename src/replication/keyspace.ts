import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Peer positions remembered (a position is 32 bytes; past this many the memo starts again). */
const MAX_REMEMBERED_PEERS = 4096

/** Positions of roots already asked about, by CID object (a view asks about the same one every round). */
const rootPositions = new WeakMap<CID, Uint8Array>()
const peerPositions = new Map<string, Uint8Array>()

/**
 * Positions in the DHT's key space, as `@libp2p/kad-dht` computes them: the
 * SHA-256 of a root's multihash, or of a peer's multihash. Replica placement
 * and the leader of a root follow XOR distance here, so any peer can
 * recompute them. Both are remembered: every round orders the holders of
 * every root, and ten thousand roots made that mostly SHA-256.
 */
function rootPosition (root: CID): Uint8Array {
  let position = rootPositions.get(root)
  if (position == null) {
    position = sha256(root.multihash.bytes)
    rootPositions.set(root, position)
  }
  return position
}

function peerPosition (peer: PeerId): Uint8Array {
  const key = peer.toString()
  let position = peerPositions.get(key)
  if (position == null) {
    if (peerPositions.size >= MAX_REMEMBERED_PEERS) peerPositions.clear()
    position = sha256(peer.toMultihash().bytes)
    peerPositions.set(key, position)
  }
  return position
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
  if (peers.length < 2) return [...peers]
  const target = rootPosition(root)
  const positions = new Map(peers.map(p => [p, peerPosition(p.peer)]))
  return [...peers].sort((a, b) => compareDistance(target, positions.get(a)!, positions.get(b)!))
}

function sha256 (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}
