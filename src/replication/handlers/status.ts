import { decodeCID } from '../../content/dag.js'
import { blankEntry } from '../codec.js'
import type { HandlerContext } from './context.js'
import type { RootReplicas } from '../../protocol/replica-network.js'
import type { PeerId } from '@libp2p/interface'

/**
 * STATUS: a probe from another holder, or a query from anyone. We answer
 * with our own state and the holders we know per root asked (every root we
 * keep, if none is named). Only a member's own state and gossip are folded
 * into our views: a stranger may ask, but cannot pass for a holder.
 */
export async function handleStatus (ctx: HandlerContext, from: PeerId, roots: RootReplicas[], member: boolean): Promise<RootReplicas[]> {
  if (ctx.departed()) return roots.map(entry => blankEntry(decodeCID(entry.root)))
  if (roots.length === 0 && member) return [...ctx.book.views.values()].map(view => ctx.entry(view))
  const merged: string[] = []
  const answers = roots.map(entry => {
    const root = decodeCID(entry.root)
    const view = ctx.book.get(root)
    if (view == null) return blankEntry(root)
    if (member) {
      ctx.book.merge(view, from, entry, ctx.gracePeriod)
      merged.push(root.toString())
    }
    return ctx.entry(view)
  })
  if (merged.length > 0) ctx.probedBy(from, merged)
  return answers
}
