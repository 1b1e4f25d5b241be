import { peerIdFromString } from '@libp2p/peer-id'
import { decodeCID } from '../content/dag.js'
import { ReplicaOp } from '../protocol/replica-network.js'
import { anySignal } from '../signals.js'
import { blankEntry, bytesToPeer, holderState } from './codec.js'
import { STATUS_QUERY_ROUNDS } from './constants.js'
import { PeerLiveness } from './peer-liveness.js'
import { RootView } from './root-view.js'
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
    const view = new RootView(root, { min: newest.min, max: newest.max, size: Number(newest.size), intentSince: Number(newest.intentSince) })
    for (const [peer, entry] of found) view.set(peerIdFromString(peer), holderState(entry)!, Number(entry.bytesHeld))
    // holders named but never reached are shown as not answering
    for (const entry of found.values()) {
      for (const peer of entry.holders.map(bytesToPeer)) {
        if (peer != null && !view.has(peer) && !peer.equals(this.c.self) && !liveness.isUp(peer.toString())) view.set(peer, 'complete')
      }
    }
    return { view, liveness }
  }
}
