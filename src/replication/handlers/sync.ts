import { decodeCID } from '../../content/dag.js'
import { MAX_REPLICA_ROOTS } from '../../protocol/constants.js'
import { blankEntry, bytesToPeer, holderState } from '../codec.js'
import { unsigned64 } from '../pages.js'
import type { HandlerContext, ReplicaAnswer } from './context.js'
import type { ReplicaMessage, RootReplicas } from '../../protocol/replica-network.js'
import type { PeerId } from '@libp2p/interface'

/**
 * A holder's sync (a STATUS with `sync`): the entries of its that changed
 * since we last acknowledged them, roots it no longer tells us about, and
 * the holders its probes reach. We fold each entry into our view of its
 * root and keep its digest; a root we keep nothing of is answered NONE
 * (the sender then knows we are no holder of it) and its digest is not
 * kept. The answer's digest is the XOR of the sender's digests we keep:
 * the sender compares it with what it counts as acknowledged, and starts
 * from scratch if they differ. The answer names the holders our probes
 * reach, so a peer that syncs with us every round (and is not probed back)
 * hears them too.
 *
 * What we keep of a sender's is bounded by the roots we keep, plus those we
 * let go and it has not yet heard of (at most MAX_REPLICA_ROOTS more: past
 * that, we keep nothing and the sender starts again).
 */
export function handleSync (ctx: HandlerContext, from: PeerId, msg: ReplicaMessage, member: boolean): ReplicaAnswer {
  const sync = msg.sync!
  if (!member || ctx.departed()) return { roots: msg.roots.map(entry => blankEntry(decodeCID(entry.root))) }
  const key = from.toString()
  ctx.syncedBy(from)
  const heard = ctx.book.sync.heard(key)
  if (sync.reset) heard.clear()
  for (const root of sync.dropped) heard.delete(decodeCID(root).toString())
  const answers: RootReplicas[] = []
  for (const entry of msg.roots) {
    const root = decodeCID(entry.root)
    const k = root.toString()
    const view = ctx.book.get(k)
    if (view == null) {
      answers.push(blankEntry(root))
      heard.delete(k)
      continue
    }
    ctx.book.merge(view, from, entry, ctx.gracePeriod)
    // an entry saying the sender keeps nothing of the root: it let it go, and tells us once
    if (holderState(entry) == null) heard.delete(k)
    else heard.set(k, unsigned64(entry.digest))
  }
  for (const bytes of sync.reachable) {
    const peer = bytesToPeer(bytes)
    if (peer != null && !peer.equals(ctx.self)) ctx.liveness.vouched(peer.toString())
  }
  if (heard.size > ctx.book.views.size + MAX_REPLICA_ROOTS) heard.clear()
  return { roots: answers, sync: { reset: false, dropped: [], reachable: ctx.reachable(), digest: heard.xor, kept: heard.size } }
}
