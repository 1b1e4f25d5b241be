import type { HandlerContext, ReplicaAnswer } from './context.js'
import type { PeerId } from '@libp2p/interface'

/**
 * LEAVING: a member stopping gracefully, after its hand-over. It stops
 * counting at once, everywhere we hold a root with it.
 */
export async function handleLeaving (ctx: HandlerContext, from: PeerId, _msg: unknown, member: boolean): Promise<ReplicaAnswer> {
  if (!member) return { roots: [] }
  ctx.log('%p is leaving', from)
  ctx.liveness.left(from.toString())
  ctx.book.sync.forget(from.toString())
  let roots = 0
  for (const view of ctx.book.views.values()) {
    if (!view.remove(from)) continue
    roots++
    ctx.book.changed(view.root.toString())
  }
  ctx.events.safeDispatchEvent('holder:left', { detail: { peer: from.toString(), roots } })
  return { roots: [] }
}
