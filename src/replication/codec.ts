import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { MAX_HOLDERS_PER_ROOT } from '../protocol/constants.js'
import { ReplicaState } from '../protocol/replica-network.js'
import { MAX_REASON_LENGTH } from './constants.js'
import { byDistance } from './keyspace.js'
import type { PeerLiveness } from './peer-liveness.js'
import type { HolderState, RootView } from './root-view.js'
import type { RootReplicas } from '../protocol/replica-network.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** The state a peer answers with: its own, or `none`/`declined`. */
export type AnswerState = HolderState | 'none' | 'declined'

/** An entry saying "I keep nothing of `root`". */
export function blankEntry (root: CID): RootReplicas {
  return { root: root.bytes, min: 0, max: 0, size: 0n, state: ReplicaState.NONE, holders: [], reason: '', intentSince: 0n, bytesHeld: 0n, digest: 0n, absent: [], erasureK: 0, erasureM: 0, layout: new Uint8Array(0), fragment: 0, holderFragments: [] }
}

/** An entry declining `root`, with the reason (cut to MAX_REASON_LENGTH). */
export function declineEntry (root: CID, reason: string): RootReplicas {
  return { ...blankEntry(root), state: ReplicaState.DECLINED, reason: reason.slice(0, MAX_REASON_LENGTH) }
}

/**
 * At most MAX_HOLDERS_PER_ROOT of `peers`, the closest to the root: a
 * message naming more would be refused. A view holds more only while
 * copies placed for silent holders wait to be trimmed.
 */
export function holderList (root: CID, peers: PeerId[]): PeerId[] {
  if (peers.length <= MAX_HOLDERS_PER_ROOT) return peers
  return byDistance(root, peers.map(peer => ({ peer }))).slice(0, MAX_HOLDERS_PER_ROOT).map(p => p.peer)
}

/**
 * How `self` describes its view of a root on the wire: the intent, its own
 * state and the other holders it believes alive (so the dead are not
 * resurrected by gossip).
 */
export function entryOf (view: RootView, self: PeerId, liveness: PeerLiveness, bytesHeld = 0): RootReplicas {
  const own = view.holders.get(self.toString())?.state
  const holders = holderList(view.root, [...view.holders.values()]
    .filter(h => !h.peer.equals(self) && liveness.isUp(h.peer.toString()))
    .map(h => h.peer))
  return {
    root: view.root.bytes,
    min: view.min,
    max: view.max,
    size: BigInt(view.size),
    state: own === 'complete' ? ReplicaState.COMPLETE : own === 'fetching' ? ReplicaState.FETCHING : ReplicaState.NONE,
    holders: holders.map(p => p.toMultihash().bytes),
    reason: '',
    intentSince: BigInt(view.intentSince),
    bytesHeld: BigInt(own === 'complete' ? view.size : bytesHeld),
    digest: 0n,
    absent: [],
    ...erasureFields(view, self, holders)
  }
}

/** The erasure fields of an entry: none for a root kept in whole copies. */
function erasureFields (view: RootView, self: PeerId, holders: PeerId[]): Pick<RootReplicas, 'erasureK' | 'erasureM' | 'layout' | 'fragment' | 'holderFragments'> {
  const e = view.erasure
  if (e == null) return { erasureK: 0, erasureM: 0, layout: new Uint8Array(0), fragment: 0, holderFragments: [] }
  return {
    erasureK: e.k,
    erasureM: e.m,
    layout: e.layout.bytes,
    fragment: plusOne(view.holders.get(self.toString())?.fragment),
    holderFragments: holders.map(p => plusOne(view.holders.get(p.toString())?.fragment))
  }
}

/** A fragment on the wire: its index plus one, 0 for none. */
export function plusOne (fragment: number | undefined): number {
  return fragment == null ? 0 : fragment + 1
}

/** A fragment from the wire (`plusOne`'s inverse): undefined for none or one past the scheme's. */
export function fragmentFrom (wire: number | undefined, total: number): number | undefined {
  return wire == null || wire < 1 || wire > total ? undefined : wire - 1
}

/**
 * `entry` with the holders that stopped answering us, and for how long: for
 * a peer that holds nothing of the root (a status query), so it shows them
 * absent with their countdown as we do. Live and absent together at most
 * MAX_HOLDERS_PER_ROOT.
 */
export function withAbsent (entry: RootReplicas, view: RootView, self: PeerId, liveness: PeerLiveness, now = Date.now()): RootReplicas {
  const room = MAX_HOLDERS_PER_ROOT - entry.holders.length
  const down = [...view.holders.values()].filter(h => !h.peer.equals(self) && !liveness.isUp(h.peer.toString())).map(h => h.peer)
  const absent = holderList(view.root, down).slice(0, Math.max(0, room))
  return {
    ...entry,
    absent: absent.map(peer => ({
      peer: peer.toMultihash().bytes,
      downFor: BigInt(Math.max(0, Math.round(liveness.downFor(peer.toString(), now)))),
      fragment: plusOne(view.holders.get(peer.toString())?.fragment)
    }))
  }
}

export function stateName (state: ReplicaState): AnswerState {
  switch (state) {
    case ReplicaState.COMPLETE: return 'complete'
    case ReplicaState.FETCHING: return 'fetching'
    case ReplicaState.DECLINED: return 'declined'
    default: return 'none'
  }
}

/** A holder's own state from its entry, if it keeps the root. */
export function holderState (entry: RootReplicas): HolderState | undefined {
  const state = stateName(entry.state)
  return state === 'complete' || state === 'fetching' ? state : undefined
}

export function bytesToPeer (bytes: Uint8Array): PeerId | undefined {
  try {
    return peerIdFromMultihash(Digest.decode(bytes))
  } catch {
    return undefined
  }
}
