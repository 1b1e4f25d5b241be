import { byDistance } from './keyspace.js'
import type { PeerLiveness } from './peer-liveness.js'
import type { Health, HolderState, RootView } from './root-view.js'
import type { PeerId } from '@libp2p/interface'

interface HolderStatus {
  peer: string
  /** `absent`: not answering, still counted; `gone`: no longer counted. */
  state: HolderState | 'absent' | 'gone'
  /** ms since it stopped answering (absent, gone). */
  downFor?: number
  /** ms until its copy is replaced unless it answers again (absent). */
  replacedIn?: number
  /** Bytes of the DAG it holds: its progress while fetching. */
  bytesHeld?: number
  /** Its addresses, as far as this peer knows them (status queries only). */
  addresses?: string[]
  /** Of an erasure-coded root: the fragment it keeps (0 … K − 1 data, K … K + M − 1 parity). */
  fragment?: number
}

export interface ReplicaStatus {
  cid: string
  /** The replication factor wanted (K), and the most copies kept. */
  wanted: number
  max: number
  size: number
  health: Health
  /** Live holders with every block (of an erasure-coded root: distinct fragments complete and answering). */
  copies: number
  /** Of an erasure-coded root: K + M, its layout, and the fragments no counted holder keeps. */
  erasure?: { k: number, m: number, layout: string, missing: number[] }
  leader?: string
  /** Closest to the root first (the order placement follows). */
  holders: HolderStatus[]
  /** This peer holds it as a replica. */
  local: boolean
  /** The state of this peer's own copy, if it holds one. */
  self?: HolderState
}

export interface DescribeInput {
  self: PeerId
  /** Our own view of liveness; a status query brings its own (then `local` and `self` stay unset). */
  liveness: PeerLiveness
  ownLiveness: PeerLiveness
  gracePeriod: number
  /** Bytes our unfinished copy of the root holds. */
  progress?: number
}

/** A root's copies as people see them (`shoal status`, `ls`, the API): holders closest first, with their states. */
export function describeView (view: RootView, input: DescribeInput): ReplicaStatus {
  const { liveness, gracePeriod } = input
  const now = Date.now()
  const a = view.assess(liveness, gracePeriod, now)
  const absent = new Set(a.absent.map(p => p.toString()))
  const gone = new Set(a.gone.map(p => p.toString()))
  const self = input.self.toString()
  const holders = byDistance(view.root, [...view.holders.values()]).map(h => {
    const key = h.peer.toString()
    const status: HolderStatus = { peer: key, state: absent.has(key) ? 'absent' : gone.has(key) ? 'gone' : h.state }
    if (h.fragment != null) status.fragment = h.fragment
    if (absent.has(key) || gone.has(key)) status.downFor = liveness.downFor(key, now)
    if (absent.has(key)) status.replacedIn = Math.max(0, gracePeriod - (status.downFor ?? 0))
    const bytesHeld = key === self ? (h.state === 'complete' ? view.size : input.progress) : h.bytesHeld
    if (h.state === 'fetching' && bytesHeld != null) status.bytesHeld = bytesHeld
    return status
  })
  const mine = view.holders.get(self)?.state
  const own = liveness === input.ownLiveness
  return {
    cid: view.root.toString(),
    wanted: view.min,
    max: view.max,
    size: view.size,
    health: a.health,
    copies: view.erasure == null ? a.complete.length : new Set(a.complete.map(p => view.holders.get(p.toString())?.fragment)).size,
    ...(view.erasure == null ? {} : { erasure: { k: view.erasure.k, m: view.erasure.m, layout: view.erasure.layout.toString(), missing: a.missing ?? [] } }),
    leader: a.leader?.toString(),
    holders,
    local: own && mine != null,
    self: own ? mine : undefined
  }
}
