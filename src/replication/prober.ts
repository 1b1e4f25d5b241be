import { peerIdFromString } from '@libp2p/peer-id'
import { AdaptiveTimeout } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import { ReplicaOp } from '../protocol/replica-network.js'
import { MAX_REACHABLE_PEERS } from '../protocol/constants.js'
import { decodeCID } from '../content/dag.js'
import { blankEntry, bytesToPeer, entryOf, holderState } from './codec.js'
import { MAX_PAGES_PER_ROUND, MAX_PROBE_TIMEOUT_FACTOR, MAX_SYNC_PEERS } from './constants.js'
import { QUERY_PAGE_ROOTS, pages, unsigned64, withDigest } from './pages.js'
import type { ReplicaComponents } from './components.js'
import type { RoundFigures } from './events.js'
import type { OurEntry, Page } from './pages.js'
import type { RootView } from './root-view.js'
import type { ReplicaMessage, ReplicaTraffic } from '../protocol/replica-network.js'
import type { Logger, PeerId } from '@libp2p/interface'

export interface ProberComponents extends ReplicaComponents {
  /** Bytes of a root our own unfinished copy holds. */
  bytesHeld(root: string): number
  /** The replica protocol's traffic counters (read for the round's figures). */
  traffic?: ReplicaTraffic
  /** Where each round's figures are traced (`DEBUG=shoal:replica-rounds`). */
  roundLog?: Logger
}

export interface ProberInit {
  /** The shortest probe timeout (ms); it grows with the response times seen. */
  probeTimeout: number
  gracePeriod: number
  /** How often a round runs (ms): a peer that synced with us within it need not be probed back. */
  checkInterval: number
}

interface Shared {
  peer: PeerId
  /** Roots of ours whose view names this peer as a holder. */
  keys: string[]
}

/**
 * Liveness of the other holders of our roots, and what they and we know of
 * each root's copies, kept in step round by round: a sync with each peer.
 *
 * Each round, one STATUS request per peer (a page), carrying only our
 * entries that changed since the peer last acknowledged them, the roots we
 * stopped telling it about, and the holders our probes reach; the peer
 * answers with a digest of our entries it keeps. Digests equal: the two
 * agree, and a round with nothing new is one small request per peer,
 * whatever the number of roots. Digests differ (a restart, a lost answer, a
 * holder it forgot): the next sync starts from scratch (reset) and sends
 * everything again. What does not fit in one page goes in the next, at
 * most MAX_PAGES_PER_ROUND pages per peer per round, the rest next round:
 * a round's traffic is bounded whatever the collection.
 *
 * Liveness is decided per peer per round by its first page: answered, the
 * peer is seen; unanswered within the adaptive timeout, it missed a probe.
 * A later page that fails ends that peer's round without counting as a
 * missed probe (it answered this round); what it did not acknowledge goes
 * again next round. Every page is bounded (pages.ts), so the time one takes
 * is what the adaptive timeout learns from (between `probeTimeout` and
 * MAX_PROBE_TIMEOUT_FACTOR times it): a loaded swarm answering slowly is
 * not taken for a dead one.
 */
export class Prober {
  private readonly c: ProberComponents
  private readonly init: ProberInit
  private readonly timeout: AdaptiveTimeout
  /** Members that synced with us, and when: within the round they need not be probed back. */
  private readonly syncedAt = new Map<string, number>()
  /** Our entries as the last round made them, and what they were made of. */
  private readonly entries = new Map<string, { version: number, epoch: number, held: number, entry: OurEntry }>()
  /** Holders our probes reached in the last round (PeerId bytes), named in every sync we send or answer. */
  private reached: Array<Uint8Array<ArrayBuffer>> = []

  constructor (components: ProberComponents, init: ProberInit) {
    this.c = components
    this.init = init
    this.timeout = new AdaptiveTimeout({ minTimeout: init.probeTimeout, maxTimeout: init.probeTimeout * MAX_PROBE_TIMEOUT_FACTOR })
  }

  /**
   * A member synced with us (and we folded its entries in): for a round we
   * need not probe it ourselves unless we have something to tell it.
   */
  syncedBy (peer: PeerId): void {
    const key = peer.toString()
    this.syncedAt.delete(key)
    this.syncedAt.set(key, Date.now())
    if (this.syncedAt.size > MAX_SYNC_PEERS) this.syncedAt.delete(this.syncedAt.keys().next().value!)
  }

  /** Holders our probes reach: a peer that cannot reach one of them does not give it up. */
  reachable (): Array<Uint8Array<ArrayBuffer>> {
    return this.reached
  }

  /**
   * One round: sync with every other holder of our roots (and with peers we
   * still owe word of roots we no longer share). With `only`, ask the
   * holders of those roots about them now instead (full entries both ways:
   * a hand-over waiting for copies), outside the syncs.
   */
  async probeAll (signal: AbortSignal, only?: Set<string>): Promise<RoundFigures> {
    const started = Date.now()
    const traffic = { ...(this.c.traffic ?? { bytesSent: 0, bytesReceived: 0 }) }
    const figures: RoundFigures = { peers: 0, requests: 0, entries: 0, bytesSent: 0, bytesReceived: 0, ms: 0 }
    const shared = this.sharedRoots(only)
    if (only != null) {
      await Promise.all([...shared.values()].map(async s => { await this.query(s, signal, figures) }))
    } else {
      for (const [key] of this.c.book.sync.told()) {
        if (!shared.has(key)) shared.set(key, { peer: peerIdFromString(key), keys: [] })
      }
      this.reached = [...shared.values()]
        .filter(s => s.keys.length > 0 && this.c.liveness.isUp(s.peer.toString()))
        .slice(0, MAX_REACHABLE_PEERS)
        .map(s => s.peer.toMultihash().bytes)
      const now = Date.now()
      for (const [key, at] of this.syncedAt) if (now - at >= this.init.checkInterval) this.syncedAt.delete(key)
      const ours = this.ourEntries()
      await Promise.all([...shared.values()].map(async s => { await this.sync(s, ours, signal, figures) }))
    }
    figures.ms = Date.now() - started
    figures.bytesSent = (this.c.traffic?.bytesSent ?? 0) - traffic.bytesSent
    figures.bytesReceived = (this.c.traffic?.bytesReceived ?? 0) - traffic.bytesReceived
    this.c.roundLog?.('replica round: %d peers, %d requests, %d entries, %d bytes sent, %d received, %d ms', figures.peers, figures.requests, figures.entries, figures.bytesSent, figures.bytesReceived, figures.ms)
    return figures
  }

  /** For each other holder, the roots of ours it holds (of `only`, if given). */
  private sharedRoots (only?: Set<string>): Map<string, Shared> {
    const byPeer = new Map<string, Shared>()
    for (const [key, view] of this.c.book.views) {
      if (only != null && !only.has(key)) continue
      for (const [peerKey, { peer }] of view.holders) {
        if (peer.equals(this.c.self)) continue
        let entry = byPeer.get(peerKey)
        if (entry == null) {
          entry = { peer, keys: [] }
          byPeer.set(peerKey, entry)
        }
        entry.keys.push(key)
      }
    }
    return byPeer
  }

  /**
   * Our entry of every root we keep, with its digest: made again only for
   * a view that changed, a change of liveness (the holders it names), or
   * progress of our own copy; the others are the last round's.
   */
  private ourEntries (): Map<string, OurEntry> {
    const ours = new Map<string, OurEntry>()
    const epoch = this.c.liveness.epoch
    for (const [key, view] of this.c.book.views) {
      const held = this.c.bytesHeld(key)
      const cached = this.entries.get(key)
      if (cached != null && cached.version === view.version && cached.epoch === epoch && cached.held === held) {
        ours.set(key, cached.entry)
        continue
      }
      const entry = withDigest(key, entryOf(view, this.c.self, this.c.liveness, held))
      this.entries.set(key, { version: view.version, epoch, held, entry })
      ours.set(key, entry)
    }
    if (this.entries.size > ours.size) for (const key of this.entries.keys()) if (!ours.has(key)) this.entries.delete(key)
    return ours
  }

  /** One round's sync with one peer: the pages of what changed since it last acknowledged. */
  private async sync (s: Shared, ours: Map<string, OurEntry>, signal: AbortSignal, figures: RoundFigures): Promise<void> {
    const key = s.peer.toString()
    const sent = this.c.book.sync.sent(key)
    const sharedKeys = new Set(s.keys)
    const changed = s.keys.map(k => ours.get(k)!).filter(e => sent?.get(e.key) !== e.entry.digest)
    const dropped: Page['dropped'] = []
    if (sent != null) {
      for (const k of sent.keys()) {
        if (sharedKeys.has(k)) continue
        const view = this.c.book.views.get(k)
        // a root we still keep: the peer forgets our entry; one we let go: it hears we keep nothing of it
        if (view != null) dropped.push({ key: k, root: view.root.bytes })
        else changed.push(withDigest(k, blankEntry(CID.parse(k))))
      }
      // it told us everything this round and we have nothing to tell: its request was the probe
      const heardAt = this.syncedAt.get(key)
      if (changed.length === 0 && dropped.length === 0 && heardAt != null && Date.now() - heardAt < this.init.checkInterval) return
    }
    figures.peers++
    let page = 0
    for (const p of pages(changed, dropped)) {
      if (page >= MAX_PAGES_PER_ROUND || signal.aborted) return
      const ok = await this.sendPage(s, p, page === 0, sent == null && page === 0, signal, figures)
      if (!ok) return
      page++
    }
  }

  /** Send one page; whether the peer answered and agrees with what we think it keeps. */
  private async sendPage (s: Shared, page: Page, first: boolean, reset: boolean, signal: AbortSignal, figures: RoundFigures): Promise<boolean> {
    const key = s.peer.toString()
    const asked = Date.now()
    const timeout = this.timeout.getTimeoutSignal({ signal })
    figures.requests++
    figures.entries += page.entries.length + page.dropped.length
    let response: ReplicaMessage
    try {
      response = await this.c.client.request(s.peer, {
        op: ReplicaOp.STATUS,
        roots: page.entries.map(e => e.entry),
        proof: new Uint8Array(0),
        sync: { reset, dropped: page.dropped.map(d => d.root), reachable: first ? this.reached : [], digest: 0n, kept: 0 }
      }, { signal: timeout, timeout: timeout.timeout })
    } catch (err: any) {
      if (!signal.aborted && first) this.missed(s, err)
      // a peer we share nothing with any more: start again from scratch if we ever do
      if (!signal.aborted && s.keys.length === 0) this.c.book.sync.forget(key)
      return false
    } finally {
      this.timeout.cleanUp(timeout)
    }
    // it said goodbye while this answer was on its way: the goodbye wins
    if (this.c.liveness.leftAfter(key, asked)) return false
    this.answered(s, first)
    // roots it keeps nothing of: it is no holder of them, and keeps no entry of ours for them
    const refused = new Set<string>()
    for (const r of response.roots) if (holderState(r) == null) refused.add(decodeCID(r.root).toString())
    this.c.book.mergeAll(s.peer, response.roots, this.init.gracePeriod)
    this.vouch(response)
    const acknowledged = reset ? this.c.book.sync.restarted(key) : this.c.book.sync.sent(key)
    if (acknowledged == null) return false
    for (const d of page.dropped) acknowledged.delete(d.key)
    for (const e of page.entries) {
      if (refused.has(e.key) || holderState(e.entry) == null) acknowledged.delete(e.key)
      else acknowledged.set(e.key, e.entry.digest)
    }
    if (response.sync == null || unsigned64(response.sync.digest) !== acknowledged.xor || response.sync.kept !== acknowledged.size) {
      this.c.log('%p keeps %d of our entries, we count %d acknowledged: the next sync starts from scratch', s.peer, response.sync?.kept ?? 0, acknowledged.size)
      this.c.book.sync.restart(key)
      return false
    }
    return true
  }

  /** Ask `s.peer` about the roots we share with it now: full entries both ways, in pages whose answers fit. */
  private async query (s: Shared, signal: AbortSignal, figures: RoundFigures): Promise<void> {
    figures.peers++
    for (let i = 0; i < s.keys.length; i += QUERY_PAGE_ROOTS) {
      const views = s.keys.slice(i, i + QUERY_PAGE_ROOTS).map(k => this.c.book.views.get(k)).filter((v): v is RootView => v != null)
      const asked = Date.now()
      const timeout = this.timeout.getTimeoutSignal({ signal })
      figures.requests++
      figures.entries += views.length
      try {
        const response = await this.c.client.request(s.peer, {
          op: ReplicaOp.STATUS,
          roots: views.map(v => entryOf(v, this.c.self, this.c.liveness, this.c.bytesHeld(v.root.toString()))),
          proof: new Uint8Array(0)
        }, { signal: timeout, timeout: timeout.timeout })
        if (this.c.liveness.leftAfter(s.peer.toString(), asked)) return
        this.answered(s, i === 0)
        this.c.book.mergeAll(s.peer, response.roots, this.init.gracePeriod)
      } catch (err: any) {
        if (!signal.aborted && i === 0) this.missed(s, err)
        return
      } finally {
        this.timeout.cleanUp(timeout)
      }
    }
  }

  /** The peer answered this round's first page: it is seen (and back, if it was not). */
  private answered (s: Shared, first: boolean): void {
    const key = s.peer.toString()
    const downFor = this.c.liveness.downFor(key)
    const wasUp = this.c.liveness.isUp(key)
    this.c.liveness.seen(key)
    if (!first || wasUp || s.keys.length === 0) return
    this.c.events.safeDispatchEvent('holder:back', { detail: { peer: key, downFor } })
    for (const k of s.keys) this.c.book.touched(k)
  }

  /** The peer did not answer this round's first page: a missed probe. */
  private missed (s: Shared, err: Error): void {
    const key = s.peer.toString()
    if (this.c.liveness.isUp(key) && s.keys.length > 0) {
      this.c.log('holder %p did not answer: %s', s.peer, err.message)
      this.c.events.safeDispatchEvent('holder:absent', { detail: { peer: key, error: err.message, roots: s.keys.length } })
    }
    this.c.liveness.failed(key)
    for (const k of s.keys) this.c.book.touched(k)
  }

  /** The holders the peer's probes reach are not gone, whatever ours say (SWIM's indirect probe). */
  private vouch (response: ReplicaMessage): void {
    for (const bytes of response.sync?.reachable ?? []) {
      const peer = bytesToPeer(bytes)
      if (peer != null && !peer.equals(this.c.self)) this.c.liveness.vouched(peer.toString())
    }
  }
}
