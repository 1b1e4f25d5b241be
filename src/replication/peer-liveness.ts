import { FAILURES_BEFORE_GONE } from './constants.js'

interface PeerHealth {
  /** Last successful probe or request from the peer (ms). */
  lastSeen: number
  /** First failed probe since it was last seen; unset while it answers. */
  downSince?: number
  /** Failed probes in a row. */
  failures: number
  /** When it said it was leaving. */
  leftAt?: number
}

/**
 * What this peer knows of other peers' liveness, from its own probes and
 * from their requests: never from provider records, which outlive peers.
 * A peer that stops answering is down from its first failed probe, and
 * stops counting as a holder only once it has been down for the grace
 * period and missed `FAILURES_BEFORE_GONE` probes in a row with no other
 * holder vouching for it meanwhile (a peer that said it is leaving stops
 * counting at once).
 */
export class PeerLiveness {
  private readonly peers = new Map<string, PeerHealth>()
  /** Goes up whenever a peer goes down or comes back (what `isUp` answers changed). */
  epoch = 0

  seen (peer: string, now = Date.now()): void {
    if (!this.isUp(peer)) this.epoch++
    this.peers.set(peer, { lastSeen: now, failures: 0 })
  }

  failed (peer: string, now = Date.now()): void {
    const health = this.peers.get(peer)
    if (health?.downSince == null) this.epoch++
    if (health == null) {
      this.peers.set(peer, { lastSeen: 0, downSince: now, failures: 1 })
    } else {
      health.downSince ??= now
      health.failures++
    }
  }

  /**
   * Another holder, a member of our group, answered us just now and lists
   * this peer among the holders it reaches: we cannot, but it is not gone
   * (SWIM's indirect probe, for free in the gossip). It keeps counting as
   * absent, and stops counting only once nobody vouches for it any more.
   */
  vouched (peer: string): void {
    const health = this.peers.get(peer)
    if (health?.downSince != null && Number.isFinite(health.failures)) health.failures = 0
  }

  /** The peer said it is leaving: treat it as down for longer than any grace period. */
  left (peer: string, now = Date.now()): void {
    if (this.isUp(peer)) this.epoch++
    this.peers.set(peer, { lastSeen: 0, downSince: 0, failures: Infinity, leftAt: now })
  }

  /** Whether the peer said it was leaving after `time` (an answer sent before that is stale). */
  leftAfter (peer: string, time: number): boolean {
    return (this.peers.get(peer)?.leftAt ?? -Infinity) >= time
  }

  isUp (peer: string): boolean {
    return this.peers.get(peer)?.downSince == null
  }

  /** How long the peer has been down (0 if it is up or unknown). */
  downFor (peer: string, now = Date.now()): number {
    const since = this.peers.get(peer)?.downSince
    return since == null ? 0 : now - since
  }

  /** Whether a holder that is down still counts: within the grace period, or not yet missed enough probes. */
  stillCounts (peer: string, gracePeriod: number, now = Date.now()): boolean {
    const health = this.peers.get(peer)
    if (health?.downSince == null) return true
    return now - health.downSince < gracePeriod || health.failures < FAILURES_BEFORE_GONE
  }

  forget (peer: string): void {
    if (!this.isUp(peer)) this.epoch++
    this.peers.delete(peer)
  }
}
