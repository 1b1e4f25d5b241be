import { TypedEventEmitter } from 'main-event'

/** Why a peer was banned: a block that failed verification, claims of blocks it does not serve, or breaking the wire protocol again and again. */
export type BanKind = 'bad-block' | 'false-claims' | 'protocol'

export interface BanEvents {
  ban: CustomEvent<{ peer: string, reason: string, kind: BanKind, until: number }>
}

/**
 * Peers banned for lying (sending blocks that fail verification). A banned
 * peer is dropped from every download, refused by the connection gater and
 * not served, until its ban expires.
 */
export class BanList extends TypedEventEmitter<BanEvents> {
  private readonly bans = new Map<string, { until: number, reason: string }>()
  /** Bans given since the daemon started, by kind. */
  readonly totals: Record<BanKind, number> = { 'bad-block': 0, 'false-claims': 0, protocol: 0 }

  ban (peer: string, ms: number, reason: string, kind: BanKind): void {
    const until = Date.now() + ms
    this.bans.set(peer, { until, reason })
    this.totals[kind]++
    this.safeDispatchEvent('ban', { detail: { peer, reason, kind, until } })
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
