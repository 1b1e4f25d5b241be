import { decodeCID } from '../../content/dag.js'
import { blankEntry } from '../codec.js'
import type { HandlerContext, ReplicaAnswer } from './context.js'
import type { ReplicaMessage, RootReplicas } from '../../protocol/replica-network.js'
import type { PeerId } from '@libp2p/interface'

/**
 * RELEASE: a root's leader trims our surplus copy. We stop keeping it as a
 * replica (a pin of the user's stays) and answer NONE. A stranger's
 * request changes nothing: we answer with what we keep.
 */
export async function handleRelease (ctx: HandlerContext, from: PeerId, msg: ReplicaMessage, member: boolean): Promise<ReplicaAnswer> {
  const answers: RootReplicas[] = []
  for (const entry of msg.roots) {
    const root = decodeCID(entry.root)
    const view = ctx.book.get(root)
    if (!member) {
      answers.push(view == null ? blankEntry(root) : ctx.entry(view))
      continue
    }
    await ctx.release(root, from.toString())
    answers.push(blankEntry(root))
  }
  return { roots: answers }
}
