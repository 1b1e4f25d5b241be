import type { Admission } from '../admission.js'
import type { ReplicaBook } from '../book.js'
import type { ReplicaEvents } from '../events.js'
import type { PeerLiveness } from '../peer-liveness.js'
import type { RootView } from '../root-view.js'
import type { ReplicaMessage, RootReplicas } from '../../protocol/replica-network.js'
import type { Logger, PeerId } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'
import type { CID } from 'multiformats/cid'

/** What the handlers of replica requests need from the replica manager. */
export interface HandlerContext {
  self: PeerId
  book: ReplicaBook
  liveness: PeerLiveness
  admission: Admission
  events: TypedEventTarget<ReplicaEvents>
  log: Logger
  gracePeriod: number
  checkInterval: number
  /** A graceful stop is handing over: no new copies are taken. */
  leaving(): boolean
  /** The hand-over is done: we answer as a peer that holds nothing. */
  departed(): boolean
  /** Whether the whole DAG is here already. */
  isComplete(root: CID): Promise<boolean>
  /** Keep a root that is all here as a replica. */
  keepReplica(root: CID): Promise<void>
  /** Queue the download of a replica we accepted. */
  download(root: CID): void
  /** Stop keeping a root as a replica (`by`: who asked). */
  release(root: CID, by: string): Promise<void>
  /** A member synced with us (we need not probe it back this round). */
  syncedBy(peer: PeerId): void
  /** Holders our probes reach (named in a sync's answer). */
  reachable(): Array<Uint8Array<ArrayBuffer>>
  /** How we describe our view of a root on the wire. */
  entry(view: RootView): RootReplicas
  persist(): Promise<void>
}

/** What a handler answers: the message without its op and proof. */
export type ReplicaAnswer = Pick<ReplicaMessage, 'roots' | 'sync'>

/** One replica operation: `member` says whether the sender proved it is in our replication group. */
export type ReplicaHandler = (ctx: HandlerContext, from: PeerId, msg: ReplicaMessage, member: boolean, signal: AbortSignal) => Promise<ReplicaAnswer>
