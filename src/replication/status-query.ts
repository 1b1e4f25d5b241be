import { peerIdFromString } from '@libp2p/peer-id'
import { decodeCID } from '../content/dag.js'
import { ReplicaOp } from '../protocol/replica-network.js'
import { anySignal } from '../signals.js'
import { MAX_ERASURE_FRAGMENTS } from '../content/constants.js'
import { blankEntry, bytesToPeer, fragmentFrom, holderState } from './codec.js'
import { FAILURES_BEFORE_GONE, STATUS_QUERY_ROUNDS } from './constants.js'
import { PeerLiveness } from './peer-liveness.js'
import { RootView } from './root-view.js'
import type { ErasureIntent } from './root-view.js'
import type { ReplicaNetwork, RootReplicas } from '../protocol/replica-network.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface StatusQueryComponents {
  self: PeerId
  network: ReplicaNetwork
  /** Peers to ask first: candidates and the root's providers in the DHT. */
  firstAsk(root: CID, options: AbortOptions): Promise<PeerId[]>
}

export interface RemoteView {
  view: RootView
  liveness: PeerLiveness
}

/**
 * What the holders of a root we do not hold say about it: we ask every
 * peer that may hold it, then every holder they name (a few rounds), and
 * build a view from the answers. Read-only: anyone may ask, members or not.
 * A holder the others no longer reach is shown as they show it: absent for
 * as long as they have not heard from it, with the time left before it is
 * replaced (they name it, with that time, in their answers to us).
 */
export class StatusQuery {
  constructor (private readonly c: StatusQueryComponents, private readonly probeTimeout: number) {}

  /** The view built from the holders' answers; undefined if no holder answered. */
  async query (root: CID, options: AbortOptions = {}): Promise<RemoteView | undefined> {
    const signal = anySignal(AbortSignal.timeout(this.probeTimeout * STATUS_QUERY_ROUNDS), options.signal)
    const asked = new Set<string>()
    const found = new Map<string, RootReplicas>()
    const liveness = new PeerLiveness()
    let toAsk = await this.c.firstAsk(root, { signal }).catch(() => [] as PeerId[])
    for (let round = 0; round < STATUS_QUERY_ROUNDS && toAsk.length > 0; round++) {
      const next: PeerId[] = []
      await Promise.all(toAsk.filter(p => !asked.has(p.toString()) && !p.equals(this.c.self)).map(async peer => {
        asked.add(peer.toString())
        try {
          const response = await this.c.network.request(peer, { op: ReplicaOp.STATUS, roots: [blankEntry(root)], proof: new Uint8Array(0) }, { signal, timeout: this.probeTimeout })
          liveness.seen(peer.toString())
          const entry = response.roots.find(r => decodeCID(r.root).equals(root))
          if (entry == null || holderState(entry) == null) return
          found.set(peer.toString(), entry)
          next.push(...entry.holders.map(bytesToPeer).filter((p): p is PeerId => p != null))
        } catch {
          liveness.failed(peer.toString())
        }
      }))
      toAsk = next
    }
    const newest = [...found.values()].sort((a, b) => Number(b.intentSince - a.intentSince))[0]
    if (newest == null) return undefined
    const erasure = erasureOf(newest)
    const total = erasure == null ? 0 : erasure.k + erasure.m
    const view = new RootView(root, { min: newest.min, max: newest.max, size: Number(newest.size), intentSince: Number(newest.intentSince) }, erasure)
    for (const [peer, entry] of found) view.set(peerIdFromString(peer), holderState(entry)!, Number(entry.bytesHeld), fragmentFrom(entry.fragment, total))
    // holders named but never reached are shown as not answering
    for (const entry of found.values()) {
      for (const [i, peer] of entry.holders.map(bytesToPeer).entries()) {
        if (peer != null && !view.has(peer) && !peer.equals(this.c.self) && !liveness.isUp(peer.toString())) view.set(peer, 'complete', undefined, fragmentFrom(entry.holderFragments[i], total))
      }
    }
    // holders the others no longer reach, as long as they still keep them: absent (or gone) since
    // the most recent time any of them heard from it, unless one of them reaches it or it answered us
    const now = Date.now()
    const namedLive = new Set([...found.values()].flatMap(entry => entry.holders.map(bytesToPeer)).map(p => p?.toString()))
    const downFor = new Map<string, { peer: PeerId, ms: number, fragment?: number }>()
    for (const entry of found.values()) {
      for (const { peer: bytes, downFor: ms, fragment } of entry.absent) {
        const peer = bytesToPeer(bytes)
        if (peer == null || peer.equals(this.c.self) || found.has(peer.toString()) || namedLive.has(peer.toString())) continue
        const known = downFor.get(peer.toString())
        downFor.set(peer.toString(), { peer, ms: Math.min(known?.ms ?? Infinity, Number(ms)), fragment: known?.fragment ?? fragmentFrom(fragment, total) })
      }
    }
    for (const [key, { peer, ms, fragment }] of downFor) {
      if (!view.has(key)) view.set(peer, 'complete', undefined, fragment)
      // as the holders count it: down since then, and past the probes that make it gone once the grace period is over
      liveness.forget(key)
      for (let i = 0; i < FAILURES_BEFORE_GONE; i++) liveness.failed(key, now - ms)
    }
    return { view, liveness }
  }
}

/** The erasure coding an entry names, if any (a malformed one counts as none). */
function erasureOf (entry: RootReplicas): ErasureIntent | undefined {
  const { erasureK: k, erasureM: m } = entry
  if (k < 1 || m < 1 || k + m > MAX_ERASURE_FRAGMENTS || entry.layout.byteLength === 0) return undefined
  try {
    return { k, m, layout: decodeCID(entry.layout) }
  } catch {
    return undefined
  }
}
