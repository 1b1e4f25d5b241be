import { TypedEventEmitter } from 'main-event'

export interface BanEvents {
  ban: CustomEvent<{ peer: string, reason: string, until: number }>
}

/**
 * Peers banned for lying (sending blocks that fail verification). A banned
 * peer is dropped from every download, refused by the connection gater and
 * not served, until its ban expires.
 */
export class BanList extends TypedEventEmitter<BanEvents> {
  private readonly bans = new Map<string, { until: number, reason: string }>()

  ban (peer: string, ms: number, reason: string): void {
    const until = Date.now() + ms
    this.bans.set(peer, { until, reason })
    this.safeDispatchEvent('ban', { detail: { peer, reason, until } })
  }

  isBanned (peer: string): boolean {
    const ban = this.bans.get(peer)
    if (ban == null) return false
    if (ban.until <= Date.now()) {
      this.bans.delete(peer)
      return false
    }
    return true
  }

  list (): Array<{ peer: string, until: number, reason: string }> {
    return [...this.bans.entries()]
      .filter(([peer]) => this.isBanned(peer))
      .map(([peer, b]) => ({ peer, ...b }))
  }
}
