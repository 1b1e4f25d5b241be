import { decodeCID } from '../../content/dag.js'
import { blankEntry, holderState, withAbsent } from '../codec.js'
import { handleSync } from './sync.js'
import type { HandlerContext, ReplicaAnswer } from './context.js'
import type { ReplicaMessage } from '../../protocol/replica-network.js'
import type { PeerId } from '@libp2p/interface'

/**
 * STATUS: a holder's sync (see handleSync), or a question about the roots
 * it names, from anyone: a status query, a leader looking for holders its
 * view lost, a placement telling the new holders about each other, a
 * hand-over waiting for copies. We answer with our own state and the
 * holders we know per root named (and, to a peer that holds nothing of a
 * root, the holders that stopped answering, with how long). Only a
 * member's own state and gossip are folded into our views: a stranger may
 * ask, but cannot pass for a holder.
 */
export async function handleStatus (ctx: HandlerContext, from: PeerId, msg: ReplicaMessage, member: boolean): Promise<ReplicaAnswer> {
  if (msg.sync != null) return handleSync(ctx, from, msg, member)
  if (ctx.departed()) return { roots: msg.roots.map(entry => blankEntry(decodeCID(entry.root))) }
  const roots = msg.roots.map(entry => {
    const root = decodeCID(entry.root)
    const view = ctx.book.get(root)
    if (view == null) return blankEntry(root)
    if (member) ctx.book.merge(view, from, entry, ctx.gracePeriod)
    const answer = ctx.entry(view)
    return holderState(entry) == null && !view.has(from) ? withAbsent(answer, view, ctx.self, ctx.liveness) : answer
  })
  return { roots }
}
