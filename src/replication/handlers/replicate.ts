import { decodeCID } from '../../content/dag.js'
import { MAX_REPLICAS } from '../../replication/constants.js'
import { SETTLE_ROUNDS } from '../constants.js'
import { declineEntry } from '../codec.js'
import { MAX_ROOT_BYTES } from '../pages.js'
import type { HandlerContext, ReplicaAnswer } from './context.js'
import type { ReplicaMessage, RootReplicas } from '../../protocol/replica-network.js'
import type { ReplicaRecord } from '../../store/replica-store.js'
import type { PeerId } from '@libp2p/interface'

/** The multihash code of SHA-256, the only hash Shoal verifies blocks with. */
const SHA2_256 = 0x12

/** Why a stranger's request to keep a copy is declined. */
const NOT_IN_GROUP = 'not in this peer\'s replication group'

/**
 * REPLICATE: a member asks us to keep a copy of each root. We take it
 * unless we are leaving or it would not fit (Admission); a root we already
 * hold whole is complete at once, any other is queued for a rate-limited
 * download. Nobody outside our replication group can make us store anything.
 */
export async function handleReplicate (ctx: HandlerContext, from: PeerId, msg: ReplicaMessage, member: boolean, signal: AbortSignal): Promise<ReplicaAnswer> {
  const answers: RootReplicas[] = []
  for (const entry of msg.roots) answers.push(await accept(ctx, from, entry, member, signal))
  return { roots: answers }
}

async function accept (ctx: HandlerContext, from: PeerId, entry: RootReplicas, member: boolean, signal: AbortSignal): Promise<RootReplicas> {
  const root = decodeCID(entry.root)
  const decline = (reason: string): RootReplicas => {
    ctx.log('declining %s from %p: %s', root, from, reason)
    ctx.events.safeDispatchEvent('replica:declined', { detail: { root: root.toString(), from: from.toString(), reason } })
    return declineEntry(root, reason)
  }
  if (!member) return decline(NOT_IN_GROUP)
  // only a root whose blocks we can verify, named as Shoal names one (its entries must fit MAX_ENTRY_BYTES)
  if (root.multihash.code !== SHA2_256 || root.bytes.byteLength > MAX_ROOT_BYTES) return decline('not a SHA-256 root')
  const existing = ctx.book.get(root)
  if (existing != null) {
    ctx.book.merge(existing, from, entry, ctx.gracePeriod)
    return ctx.entry(existing)
  }
  if (ctx.leaving()) return decline('leaving')
  const min = Math.min(Math.max(entry.min, 1), MAX_REPLICAS)
  const max = Math.min(Math.max(entry.max, min), MAX_REPLICAS)
  const size = Number(entry.size)
  const complete = await ctx.isComplete(root)
  if (!complete) {
    const verdict = await ctx.admission.judge(size)
    if (!verdict.accept) return decline(verdict.reason)
  }
  signal.throwIfAborted()
  const record: ReplicaRecord = {
    root,
    min,
    max,
    size,
    intentSince: Number(entry.intentSince),
    state: complete ? 'complete' : 'fetching',
    holders: [],
    created: Date.now()
  }
  const view = ctx.book.track(record)
  // hear from the rest of the placement before judging the count
  view.settledAt = Date.now() + SETTLE_ROUNDS * ctx.checkInterval
  ctx.book.merge(view, from, entry, ctx.gracePeriod)
  ctx.book.changed(root.toString())
  await ctx.persist()
  if (complete) await ctx.keepReplica(root)
  else ctx.download(root)
  ctx.log('took a copy of %s for %p (%s)', root, from, record.state)
  ctx.events.safeDispatchEvent('replica:accepted', { detail: { root: root.toString(), from: from.toString(), state: record.state } })
  return ctx.entry(view)
}
