import { logger } from '@libp2p/logger'
import type { BanList } from './ban-list.js'

const log = logger('shoal:peer-conduct')

export interface PeerConductInit {
  /** Violations within `window` that get a peer banned. */
  maxViolations: number
  /** How far back violations count (ms). */
  window: number
  /** How long the ban lasts (ms). */
  banTime: number
}

/** Peers remembered at most; the oldest records go first past this. */
const MAX_TRACKED = 4096

/**
 * Scores peers down for breaking the wire protocol (a frame that does not
 * decode, a length prefix past the limit, a stream cut inside a message):
 * each violation closes the stream it happened on, and a peer that commits
 * `maxViolations` of them within `window` is banned (refused and hung up on)
 * for `banTime`. One mistake is forgiven; a hostile peer is not.
 */
export class PeerConduct {
  private readonly init: PeerConductInit
  private readonly bans: BanList
  private readonly records = new Map<string, number[]>()

  constructor (bans: BanList, init: PeerConductInit) {
    this.bans = bans
    this.init = init
  }

  violation (peer: string, reason: string): void {
    const now = Date.now()
    const recent = (this.records.get(peer) ?? []).filter(t => now - t < this.init.window)
    recent.push(now)
    this.records.delete(peer)
    log('%s broke the protocol (%d in the window): %s', peer, recent.length, reason)
    if (recent.length >= this.init.maxViolations) {
      this.bans.ban(peer, this.init.banTime, `broke the wire protocol ${recent.length} times (last: ${reason})`)
      return
    }
    this.records.set(peer, recent)
    if (this.records.size > MAX_TRACKED) {
      this.records.delete(this.records.keys().next().value!)
    }
  }

  /** Violations of `peer` still counting. */
  count (peer: string): number {
    const now = Date.now()
    return (this.records.get(peer) ?? []).filter(t => now - t < this.init.window).length
  }
}
