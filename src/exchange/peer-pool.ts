import { NoProvidersError } from '../errors.js'
import { PeerState } from './peer-state.js'
import type { BanList } from './ban-list.js'
import type { BlockChannel, BlockSource } from './block-source.js'
import type { PeerContribution } from './session-types.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { Logger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface PeerPoolComponents {
  /** Block protocols, tried in order for each peer. */
  sources: BlockSource[]
  bans: BanList
  log: Logger
}

export interface PeerPoolInit {
  /** Requests outstanding per peer: at first, at least, at most. */
  window: { initial: number, min: number, max: number }
  /** A peer that owes an answer this long is dropped and benched as long again (ms). */
  requestTimeout: number
}

/** What the pool's peers say, for the session to act on. */
export interface PeerPoolEvents {
  onReady(peer: PeerState): void
  onBlock(peer: PeerState, block: VerifiedBlock): void
  onInvalidBlock(peerKey: string, cid: CID | undefined, err: Error): void
  onDontHave(peer: PeerState, cid: CID): void
  /** The peer is out of the pool; its requests (`peer.inFlight`) are cleared after this returns. */
  onDropped(peer: PeerState, reason: string): void
}

/** Distinct reasons kept per dropped peer. */
const MAX_DROP_REASONS = 8

/** Holders one download remembers as known (providers and swarm members: a DHT answer names 20, a swarm 64 candidates). */
const MAX_KNOWN_HOLDERS = 1024

/**
 * The peers one download fetches from: opens a block channel to each holder
 * (through the first block source that reaches it), keeps each one's
 * request window, drops a peer that stalls and benches it for a while, and
 * remembers who gave what and why each was dropped.
 */
export class PeerPool {
  readonly peers = new Map<string, PeerState>()
  private readonly c: PeerPoolComponents
  private readonly init: PeerPoolInit
  private readonly events: PeerPoolEvents
  private readonly connecting = new Set<string>()
  /** Peers that let a request time out, and until when they are not asked again. */
  private readonly benched = new Map<string, { until: number, id: PeerId }>()
  private readonly drops = new Map<string, Set<string>>()
  /** Peers we reach only through a relay that limits us (not run by our group): not asked again. */
  private readonly limited = new Set<string>()
  /** Peers known to take part in this root (its providers, peers its swarm named), not just peers we are connected to. */
  private readonly holders = new Set<string>()
  private readonly contributions = new Map<string, PeerContribution>()
  private closed = false

  constructor (components: PeerPoolComponents, init: PeerPoolInit, events: PeerPoolEvents) {
    this.c = components
    this.init = init
    this.events = events
  }

  get size (): number {
    return this.peers.size
  }

  /** No peer to fetch from, and none being reached. */
  get isEmpty (): boolean {
    return this.peers.size === 0 && this.connecting.size === 0
  }

  /** Open a block channel to a peer that holds something (unless it is in the pool, banned or benched). */
  connect (id: PeerId, signal: AbortSignal): void {
    const key = id.toString()
    if (this.closed || this.peers.has(key) || this.connecting.has(key) || this.c.bans.isBanned(key)) return
    if ((this.benched.get(key)?.until ?? 0) > Date.now() || this.limited.has(key)) return
    this.connecting.add(key)
    this.open(id, signal).then(({ channel, source }) => {
      if (this.closed || this.c.bans.isBanned(key)) {
        void channel.close().catch(() => {})
        return
      }
      const peer = new PeerState(id, channel, this.init.window, () => source.rttOf(id))
      this.peers.set(key, peer)
      if (!this.contributions.has(key)) this.contributions.set(key, { peerId: key, bytes: 0, blocks: 0 })
      this.c.log('fetching from %s', key)
      this.events.onReady(peer)
    }, err => {
      if (err.name === 'LimitedConnectionError') this.markLimited(key)
      this.c.log('cannot reach %s: %s', key, err.message)
    }).finally(() => {
      this.connecting.delete(key)
    })
  }

  /** Holders found (providers, swarm members) that we reach only through a relay that limits us. */
  get limitedHolders (): number {
    let n = 0
    for (const peer of this.limited) if (this.holders.has(peer)) n++
    return n
  }

  /** `peer` provides the root, or its swarm named it: a holder, not only a peer we happen to be connected to. */
  knownHolder (peer: string): void {
    if (this.holders.size < MAX_KNOWN_HOLDERS) this.holders.add(peer)
  }

  /** `peer` is reached only through a relay that limits us: no stream of ours opens on such a connection. */
  markLimited (peer: string): void {
    this.limited.add(peer)
  }

  isLimited (peer: string): boolean {
    return this.limited.has(peer)
  }

  /** A block from `peer` counts towards what it gave. */
  credit (peer: PeerState, bytes: number): void {
    const contribution = this.contributions.get(peer.key)
    if (contribution == null) return
    contribution.bytes += bytes
    contribution.blocks++
  }

  drop (peerKey: string, reason: string): void {
    const peer = this.peers.get(peerKey)
    if (peer == null) return
    this.peers.delete(peerKey)
    const reasons = this.drops.get(peerKey) ?? new Set()
    if (reasons.size < MAX_DROP_REASONS) reasons.add(reason)
    this.drops.set(peerKey, reasons)
    this.c.log('dropping %s: %s', peerKey, reason)
    this.events.onDropped(peer, reason)
    peer.inFlight.clear()
    if (peer.channel.isOpen) void peer.channel.close().catch(() => {})
  }

  /** Drop peers that stall (benched for as long again); give benched peers whose time is up another chance. */
  checkStalls (now: number, signal: AbortSignal): void {
    for (const [key, { until, id }] of this.benched) {
      if (until > now) continue
      this.benched.delete(key)
      this.connect(id, signal)
    }
    for (const peer of [...this.peers.values()]) {
      if (peer.silentFor(now) > this.init.requestTimeout) {
        this.benched.set(peer.key, { until: now + this.init.requestTimeout, id: peer.id })
        this.drop(peer.key, 'request timed out')
      }
    }
  }

  /** Close every channel; the pool opens no more. */
  close (): void {
    this.closed = true
    for (const peer of this.peers.values()) void peer.channel.close().catch(() => {})
    this.peers.clear()
  }

  /** Peers that sent blocks, with what each sent. */
  contributors (): PeerContribution[] {
    return [...this.contributions.values()].filter(p => p.blocks > 0)
  }

  /** One entry per dropped peer and reason. */
  dropped (): Array<{ peerId: string, reason: string }> {
    return [...this.drops].flatMap(([peerId, reasons]) => [...reasons].map(reason => ({ peerId, reason })))
  }

  /** A channel through the first source that reaches the peer. */
  private async open (id: PeerId, signal: AbortSignal): Promise<{ channel: BlockChannel, source: BlockSource }> {
    const key = id.toString()
    let failure: Error | undefined
    for (const source of this.c.sources) {
      try {
        const channel = await source.openChannel(id, {
          onBlock: block => { this.withPeer(key, peer => { this.events.onBlock(peer, block) }) },
          onInvalidBlock: (cid, err) => { this.events.onInvalidBlock(key, cid, err) },
          onDontHave: cid => { this.withPeer(key, peer => { this.events.onDontHave(peer, cid) }) },
          onClose: err => { this.drop(key, err?.message ?? 'stream closed') }
        }, { signal })
        return { channel, source }
      } catch (err: any) {
        failure = err
        if (signal.aborted) break
      }
    }
    throw failure ?? new NoProvidersError('no block protocol to ask peers through')
  }

  private withPeer (key: string, fn: (peer: PeerState) => void): void {
    const peer = this.peers.get(key)
    if (peer == null) {
      this.c.log.trace('ignoring a message from %s, which is not in the pool', key)
      return
    }
    fn(peer)
  }
}
