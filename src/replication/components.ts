import type { ReplicaBook } from './book.js'
import type { ReplicaClient } from './client.js'
import type { ReplicaEvents } from './events.js'
import type { PeerLiveness } from './peer-liveness.js'
import type { Logger, PeerId } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'

/** What the parts of replication share, as the coordinator wires them (libp2p's `Components` pattern). */
export interface ReplicaComponents {
  self: PeerId
  client: ReplicaClient
  book: ReplicaBook
  liveness: PeerLiveness
  events: TypedEventTarget<ReplicaEvents>
  log: Logger
}
