import { defaultLogger } from '@libp2p/logger'
import { VIOLATION_WINDOW } from './constants.js'
import type { ViolationKind } from '../errors.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import type { BanList } from './ban-list.js'

export interface PeerConductInit {
  /** The node's logger (by default one of its own). */
  logger?: ComponentLogger
  /** Violations within `window` that get a peer banned. */
  maxViolations: number
  /** How far back violations count (ms; default VIOLATION_WINDOW). */
  window?: number
  /** How long the ban lasts (ms). */
  banTime: number
}

/** Peers remembered at most; the oldest records go first past this. */
const MAX_TRACKED = 4096

/**
 * Scores peers down for breaking the wire protocol (a frame that does not
 * decode, a length prefix past the limit, a stream cut inside a message,
 * requests past the limits, blocks nobody asked for):
 * each violation closes the stream it happened on, and a peer that commits
 * `maxViolations` of them within `window` is banned (refused and hung up on)
 * for `banTime`. One mistake is forgiven; a hostile peer is not.
 */
export class PeerConduct {
  private readonly init: PeerConductInit
  private readonly bans: BanList
  private readonly records = new Map<string, number[]>()
  /** Violations seen since the daemon started, by kind. */
  readonly totals: Record<ViolationKind, number> = { malformed: 0, oversized: 0, truncated: 0, flood: 0, unsolicited: 0 }

  private readonly log: Logger
  private readonly window: number

  constructor (bans: BanList, init: PeerConductInit) {
    this.bans = bans
    this.init = init
    this.window = init.window ?? VIOLATION_WINDOW
    this.log = (init.logger ?? defaultLogger()).forComponent('shoal:peer-conduct')
  }

  violation (peer: string, reason: string, kind: ViolationKind = 'malformed'): void {
    this.totals[kind]++
    const now = Date.now()
    const recent = (this.records.get(peer) ?? []).filter(t => now - t < this.window)
    recent.push(now)
    this.records.delete(peer)
    this.log('%s broke the protocol (%d in the window): %s', peer, recent.length, reason)
    if (recent.length >= this.init.maxViolations) {
      this.bans.ban(peer, this.init.banTime, `broke the wire protocol ${recent.length} times (last: ${reason})`, 'protocol')
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
    return (this.records.get(peer) ?? []).filter(t => now - t < this.window).length
  }
}
