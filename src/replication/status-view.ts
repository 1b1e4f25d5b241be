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
}

export interface ReplicaStatus {
  cid: string
  /** The replication factor wanted (K), and the most copies kept. */
  wanted: number
  max: number
  size: number
  health: Health
  /** Live holders with every block. */
  copies: number
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
    copies: a.complete.length,
    leader: a.leader?.toString(),
    holders,
    local: own && mine != null,
    self: own ? mine : undefined
  }
}
