import { decodeCID } from '../../content/dag.js'
import { MAX_REPLICAS } from '../../replication/constants.js'
import { SETTLE_ROUNDS } from '../constants.js'
import { declineEntry, fragmentFrom } from '../codec.js'
import { MAX_ERASURE_FRAGMENTS } from '../../content/constants.js'
import { MAX_ROOT_BYTES } from '../pages.js'
import type { HandlerContext, ReplicaAnswer } from './context.js'
import type { ReplicaMessage, RootReplicas } from '../../protocol/replica-network.js'
import type { ReplicaRecord } from '../../store/replica-store.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

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
  const erasure = erasureOf(entry)
  if (typeof erasure === 'string') return decline(erasure)
  // in a REPLICATE the fragment named is the one asked of us, not the sender's own
  if (erasure != null) entry = { ...entry, fragment: 0 }
  const existing = ctx.book.get(root)
  if (existing != null) {
    // kept otherwise (copies, another scheme or layout): we keep what we keep, and say so
    const e = existing.erasure
    const same = e == null ? erasure == null : erasure != null && e.k === erasure.k && e.m === erasure.m && e.layout.equals(erasure.layout)
    if (!same) return decline(e == null ? 'keeps a whole copy of it' : `keeps a fragment of it as ${e.k}+${e.m}`)
    ctx.book.merge(existing, from, entry, ctx.gracePeriod)
    return ctx.entry(existing)
  }
  if (ctx.leaving()) return decline('leaving')
  const min = erasure == null ? Math.min(Math.max(entry.min, 1), MAX_REPLICAS) : erasure.k + erasure.m
  const max = erasure == null ? Math.min(Math.max(entry.max, min), MAX_REPLICAS) : min
  const size = Number(entry.size)
  // a fragment is fetched (or rebuilt) even when the whole root is here: its parity may not be
  const complete = erasure == null && await ctx.isComplete(root)
  if (!complete) {
    // a fragment: 1/K of the root, and its interior nodes
    const verdict = await ctx.admission.judge(erasure == null ? size : Math.ceil(size / erasure.k))
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
    created: Date.now(),
    ...(erasure == null ? {} : { erasure: { k: erasure.k, m: erasure.m, layout: erasure.layout.toString() }, fragment: erasure.fragment })
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

/**
 * The erasure coding a REPLICATE asks for: undefined for a whole copy, or
 * why it cannot be taken (a scheme past the bounds, no layout, a fragment
 * outside the scheme).
 */
function erasureOf (entry: RootReplicas): { k: number, m: number, layout: CID, fragment: number } | string | undefined {
  if (entry.erasureK === 0 && entry.erasureM === 0) return undefined
  const { erasureK: k, erasureM: m } = entry
  if (k < 1 || m < 1 || k + m > MAX_ERASURE_FRAGMENTS) return `not an erasure code this peer keeps (${k}+${m})`
  const fragment = fragmentFrom(entry.fragment, k + m)
  if (fragment == null) return 'no fragment named'
  try {
    const layout = decodeCID(entry.layout)
    if (layout.multihash.code !== SHA2_256 || layout.bytes.byteLength > MAX_ROOT_BYTES) return 'not a SHA-256 layout'
    return { k, m, layout, fragment }
  } catch {
    return 'a malformed layout CID'
  }
}
