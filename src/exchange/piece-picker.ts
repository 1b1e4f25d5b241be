import { isInterior } from '../content/dag.js'
import type { Availability } from './availability.js'
import type { LeafIndex } from './leaf-index.js'
import type { PeerState } from './peer-state.js'
import type { WantList } from './want-list.js'
import type { CID } from 'multiformats/cid'

/** What we know a peer holds: see `RemotePeer`. Undefined: the peer never told us (assume it holds the root's DAG). */
export interface PeerHoldings {
  complete: boolean
  heard: boolean
  hasLeaf(i: number): boolean | undefined
  bitfield?: unknown
}

export interface PickInput {
  wants: WantList
  peer: PeerState
  holdings?: PeerHoldings
  /** Leaf order, once every interior node is known. */
  index?: LeafIndex
  availability?: Availability
  /** A random rank per leaf: breaks ties between equally rare leaves. */
  tiebreak?: Uint32Array
  /** Sequential mode (cat, streaming): only leaves in [frontier, frontier + window). */
  sequential?: { frontier: number, window: number }
  max: number
}

/** Whether the peer can be asked for an interior node. */
function mayHaveInterior (h: PeerHoldings | undefined): boolean {
  // peers that sent a bitfield know the whole DAG, so they hold every interior node
  return h == null || h.complete || h.bitfield != null || !h.heard
}

/** Whether the peer holds leaf `cid` (all of its indices are the same bytes). */
function mayHaveLeaf (h: PeerHoldings | undefined, indices: number[] | undefined): boolean {
  if (h == null || h.complete) return true
  if (indices == null || indices.length === 0) return false
  return indices.some(i => h.hasLeaf(i) === true)
}

/**
 * Choose up to `max` pending blocks to ask `peer` for. Interior nodes first
 * (they reveal the rest of the DAG); then leaves the peer holds, rarest
 * first among reachable peers with random order among equals, or in file
 * order within a window in sequential mode. Pure: changes nothing.
 */
export function pickBlocks (input: PickInput): CID[] {
  const { wants, peer, holdings, index, availability, tiebreak, sequential, max } = input
  if (max <= 0) return []
  const picked: CID[] = []
  // The scheduler picks on every arrival, over every pending block: sorting them all (and naming each
  // CID twice) made a download's picking grow with the square of its leaves (0.6 s for 4096). Only the
  // best `max` leaves are kept, in order, ties in want-list order: the leaves a full stable sort gave.
  const best: Leaf[] = []
  /** Leaves kept in the running so far: the order of those whose place in the file is not known yet. */
  let candidates = 0
  for (const cid of wants.pending()) {
    const key = cid.toString()
    if (peer.lacks.has(key)) continue
    if (isInterior(cid)) {
      if (mayHaveInterior(holdings)) {
        picked.push(cid)
        if (picked.length >= max) return picked
      }
      continue
    }
    const indices = index?.indicesOfKey(key)
    if (!mayHaveLeaf(holdings, indices)) continue
    if (index == null || indices == null || indices.length === 0) {
      // order not known yet: take in want-list order
      keepBest(best, { cid, rank: candidates++, tie: 0 }, max)
      continue
    }
    const first = indices[0]
    if (sequential != null) {
      if (first >= sequential.frontier + sequential.window) continue
      keepBest(best, { cid, rank: first, tie: 0 }, max)
    } else {
      keepBest(best, { cid, rank: availability?.of(first) ?? 0, tie: tiebreak?.[first] ?? first }, max)
    }
    candidates++
  }
  for (const l of best) {
    picked.push(l.cid)
    if (picked.length >= max) break
  }
  return picked
}

interface Leaf { cid: CID, rank: number, tie: number }

/** Insert `leaf` into `best` (ordered by rank, then tie, earlier first among equals), keeping at most `max`. */
function keepBest (best: Leaf[], leaf: Leaf, max: number): void {
  let at = best.length
  while (at > 0 && (leaf.rank < best[at - 1].rank || (leaf.rank === best[at - 1].rank && leaf.tie < best[at - 1].tie))) at--
  if (at >= max) return
  best.splice(at, 0, leaf)
  if (best.length > max) best.pop()
}

/**
 * Endgame: every missing block is already requested. Give an idle peer
 * duplicate requests for blocks it holds, those asked of the fewest peers
 * first, then the most recently asked: a peer answers its requests in
 * order, so the last one asked waits at the back of its queue (the oldest is
 * about to arrive; a peer that stalls is dropped by its request timeout).
 * Each is asked of at most `maxAsked`, and only if `sooner` says this peer
 * would deliver it before those already asked.
 */
export function pickEndgame (inFlight: Iterable<{ cid: CID, peers: Set<string>, since: number }>, input: Omit<PickInput, 'wants'>, maxAsked: number, sooner: (entry: { cid: CID, peers: Set<string>, since: number }) => boolean = () => true): CID[] {
  const { peer, holdings, index, max } = input
  if (max <= 0) return []
  const candidates: Array<{ cid: CID, asked: number, since: number }> = []
  for (const entry of inFlight) {
    if (entry.peers.has(peer.key) || entry.peers.size >= maxAsked || peer.lacks.has(entry.cid.toString())) continue
    if (!sooner(entry)) continue
    const ok = isInterior(entry.cid) ? mayHaveInterior(holdings) : mayHaveLeaf(holdings, index?.indicesOf(entry.cid))
    if (ok) candidates.push({ cid: entry.cid, asked: entry.peers.size, since: entry.since })
  }
  candidates.sort((a, b) => a.asked - b.asked || b.since - a.since)
  return candidates.slice(0, max).map(c => c.cid)
}
