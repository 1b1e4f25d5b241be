import type { PeerState } from './peer-state.js'
import type { WantList } from './want-list.js'
import type { CID } from 'multiformats/cid'

/**
 * Choose which pending blocks to ask `peer` for: up to `max` blocks, best
 * first in the want list's order, skipping those the peer said it lacks.
 * Pure: it reads the want list and peer state and changes neither.
 */
export function pickBlocks (wants: WantList, peer: PeerState, max: number): CID[] {
  const picked: CID[] = []
  if (max <= 0) return picked
  for (const cid of wants.pending()) {
    if (peer.lacks.has(cid.toString())) continue
    picked.push(cid)
    if (picked.length >= max) break
  }
  return picked
}
