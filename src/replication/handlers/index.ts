import { ReplicaOp } from '../../protocol/replica-network.js'
import { handleLeaving } from './leaving.js'
import { handleRelease } from './release.js'
import { handleReplicate } from './replicate.js'
import { handleStatus } from './status.js'
import type { ReplicaHandler } from './context.js'

export type { HandlerContext, ReplicaHandler } from './context.js'

/** The handler of each operation of `/shoal/replica/1.0.0`. */
export const HANDLERS: Record<ReplicaOp, ReplicaHandler> = {
  [ReplicaOp.STATUS]: handleStatus,
  [ReplicaOp.REPLICATE]: handleReplicate,
  [ReplicaOp.RELEASE]: handleRelease,
  [ReplicaOp.LEAVING]: handleLeaving
}
