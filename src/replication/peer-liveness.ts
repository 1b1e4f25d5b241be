interface PeerHealth {
  /** Last successful probe or request from the peer (ms). */
  lastSeen: number
  /** First failed probe since it was last seen; unset while it answers. */
  downSince?: number
  /** When it said it was leaving. */
  leftAt?: number
}

/**
 * What this peer knows of other peers' liveness, from its own probes and
 * from their requests: never from provider records, which outlive peers.
 */
export class PeerLiveness {
  private readonly peers = new Map<string, PeerHealth>()

  seen (peer: string, now = Date.now()): void {
    this.peers.set(peer, { lastSeen: now })
  }

  failed (peer: string, now = Date.now()): void {
    const health = this.peers.get(peer)
    if (health == null) this.peers.set(peer, { lastSeen: 0, downSince: now })
    else health.downSince ??= now
  }

  /** The peer said it is leaving: treat it as down for longer than any grace period. */
  left (peer: string, now = Date.now()): void {
    this.peers.set(peer, { lastSeen: 0, downSince: 0, leftAt: now })
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

  forget (peer: string): void {
    this.peers.delete(peer)
  }
}
