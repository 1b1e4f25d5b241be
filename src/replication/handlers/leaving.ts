import type { HandlerContext } from './context.js'
import type { RootReplicas } from '../../protocol/replica-network.js'
import type { PeerId } from '@libp2p/interface'

/**
 * LEAVING: a member stopping gracefully, after its hand-over. It stops
 * counting at once, everywhere we hold a root with it.
 */
export async function handleLeaving (ctx: HandlerContext, from: PeerId, _roots: RootReplicas[], member: boolean): Promise<RootReplicas[]> {
  if (!member) return []
  ctx.log('%p is leaving', from)
  ctx.liveness.left(from.toString())
  let roots = 0
  for (const view of ctx.book.views.values()) {
    if (!view.remove(from)) continue
    roots++
    ctx.book.changed(view.root.toString())
  }
  ctx.events.safeDispatchEvent('holder:left', { detail: { peer: from.toString(), roots } })
  return []
}
