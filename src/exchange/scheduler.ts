import { pickBlocks, pickEndgame } from './piece-picker.js'
import type { PeerPool } from './peer-pool.js'
import type { PeerState } from './peer-state.js'
import type { SessionDag } from './session-dag.js'
import type { Swarm } from './swarm.js'
import type { TokenBucket } from './token-bucket.js'
import type { Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface SchedulerComponents {
  dag: SessionDag
  pool: PeerPool
  /** What each peer of the root's swarm says it holds. */
  swarm: Swarm
  log: Logger
  /** Claim a block node-wide before asking for it: false when another download fetches it. */
  claim(cid: CID): boolean
  /** Whether the write pipeline takes more blocks. */
  canReceive(): boolean
  /** Sending a request to the peer failed. */
  onSendFailed(peer: PeerState, err: Error): void
}

export interface SchedulerInit {
  /** Fetch leaves in file order within a window (streaming) instead of rarest first. */
  sequential: boolean
}

/** Window of leaves ahead of the first missing one in sequential mode. */
const SEQUENTIAL_WINDOW = 32
/** In endgame, a block is asked of at most this many peers at once. */
const ENDGAME_MAX_ASKED = 2
/** A block asked of another peer is asked again only if this peer would deliver it this many times sooner. */
const STEAL_MARGIN = 2
/** With no rate known on either side, a request this old (ms) may be asked of another peer. */
const STEAL_AFTER = 2_000
/** Requests a rate-limited session may have paid for in advance. */
const PACED_CREDITS = 4

/**
 * Decides what to ask whom: tops each peer's requests up to its window with
 * the blocks the piece picker chooses (interior nodes first, then rarest
 * leaves, or file order when streaming), asks idle peers for what is still
 * in flight in the endgame, and, with a rate limit, pays for requests in
 * advance. It never sees the wire: a peer's channel is whatever block
 * source opened it.
 */
export class Scheduler {
  private readonly c: SchedulerComponents
  private readonly init: SchedulerInit
  /** Requests the rate limit allows now (unlimited without one). */
  private credits = Infinity
  private creditUsed?: PromiseWithResolvers<void>
  private stopped = false

  constructor (components: SchedulerComponents, init: SchedulerInit) {
    this.c = components
    this.init = init
  }

  /** Top up a peer's requests to its window. */
  fill (peer: PeerState): void {
    if (this.stopped || !this.c.canReceive()) return
    let room = Math.min(peer.room, this.credits)
    if (room === 0) return
    const { dag, swarm } = this.c
    const numbering = dag.numbering
    const input = {
      wants: dag.wants,
      peer,
      holdings: swarm.peers.get(peer.key),
      index: numbering?.index,
      availability: numbering?.availability,
      tiebreak: numbering?.tiebreak,
      sequential: this.init.sequential ? { frontier: dag.frontier, window: SEQUENTIAL_WINDOW } : undefined,
      max: room
    }
    const picked = pickBlocks(input).filter(cid => this.claimed(cid))
    room -= picked.length
    // endgame: every missing block is asked for. Before it, a peer left with
    // nothing to do (what is pending it does not hold) takes over blocks
    // waiting in other peers' queues: a slow seeder's queue is then cancelled
    // as they arrive, instead of sending what others already spread.
    if (room > 0 && (dag.wants.pendingCount === 0 || peer.inFlight.size === 0)) {
      picked.push(...pickEndgame(dag.wants.inFlightEntries(), { ...input, max: room }, ENDGAME_MAX_ASKED, entry => this.sooner(peer, entry)))
    }
    if (picked.length === 0) return
    this.c.log.trace('asking %s for %d block(s); window %d, %d pending', peer.key, picked.length, peer.window, dag.wants.pendingCount)
    const now = Date.now()
    if (Number.isFinite(this.credits)) {
      this.credits -= picked.length
      this.creditUsed?.resolve()
    }
    for (const cid of picked) {
      dag.wants.requested(cid, peer.key)
      peer.inFlight.set(cid.toString(), { cid, sentAt: now })
    }
    peer.channel.want(picked).catch(err => { this.c.onSendFailed(peer, err) })
  }

  fillAll (): void {
    for (const peer of this.c.pool.peers.values()) this.fill(peer)
  }

  /**
   * With a rate limit, requests are paid for in advance: each credit is one
   * block's worth of tokens (`blockSize()`, the average so far), and at most
   * PACED_CREDITS are banked, so an idle session takes nothing from others.
   */
  async pace (limit: TokenBucket, blockSize: () => number, signal: AbortSignal): Promise<void> {
    this.credits = 0
    while (!this.stopped) {
      if (this.credits >= PACED_CREDITS) {
        this.creditUsed = Promise.withResolvers<void>()
        await this.creditUsed.promise
        continue
      }
      try {
        await limit.take(Math.ceil(blockSize()), signal)
      } catch {
        return
      }
      this.credits++
      this.fillAll()
    }
  }

  stop (): void {
    this.stopped = true
    this.creditUsed?.resolve()
  }

  /**
   * Whether `peer` would deliver a block already asked of others clearly
   * sooner than they will: a duplicate costs the other peer's upload too
   * (what it has written to its socket goes out whatever we cancel), so
   * among peers of about the same speed nothing is asked twice. A peer whose
   * rate is not known yet takes over only from peers as unknown, and only
   * requests older than STEAL_AFTER; a holder not measured yet, or gone
   * silent, is overtaken by a measured peer once the block has waited there
   * twice as long as that peer would take.
   */
  private sooner (peer: PeerState, entry: { cid: CID, peers: Set<string>, since: number }): boolean {
    const now = Date.now()
    const per = peer.blockTime()
    const key = entry.cid.toString()
    let holderEta = Infinity
    let holdersKnown = false
    for (const other of entry.peers) {
      const eta = this.c.pool.peers.get(other)?.eta(key, now)
      if (eta == null) continue
      holdersKnown = true
      holderEta = Math.min(holderEta, eta)
    }
    if (per == null) return !holdersKnown && now - entry.since > STEAL_AFTER
    const mine = (peer.inFlight.size + 1) * per
    // a holder not measured yet has had the block asked of it since `since`: once that is
    // longer than we would need twice over, it is slower than us (or not sending at all)
    if (!holdersKnown) return now - entry.since > mine * STEAL_MARGIN
    return mine * STEAL_MARGIN < holderEta
  }

  /** Claim a picked block node-wide; one another download fetches is waited for instead. */
  private claimed (cid: CID): boolean {
    if (this.c.claim(cid)) return true
    this.c.dag.wants.elsewhere(cid)
    return false
  }
}
