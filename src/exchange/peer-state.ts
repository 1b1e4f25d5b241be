import type { RequestChannel } from '../protocol/block-network.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface WindowLimits {
  /** Requests outstanding before the peer's rate is known. */
  initial: number
  min: number
  max: number
}

/** How long a rate sample covers (ms), and how often the latency floor is re-measured. */
const RATE_WINDOW = 2_000
const LATENCY_RESET = 5_000
/** The latency floor never counts for less than this (ms): timers and scheduling are coarse. */
const MIN_LATENCY = 20

/**
 * One download's view of one peer: what we asked it, what it lacks, what it
 * sent, and how many requests to keep outstanding: enough to cover its
 * measured rate × latency (bytes in flight ≈ rate × RTT), within bounds.
 */
export class PeerState {
  readonly id: PeerId
  readonly key: string
  readonly channel: RequestChannel
  /** Requests sent and not answered: CID string → time sent (ms). */
  readonly inFlight = new Map<string, { cid: CID, sentAt: number }>()
  /** Blocks this peer said it does not have. */
  readonly lacks = new Set<string>()
  bytesReceived = 0
  blocksReceived = 0
  private readonly limits: WindowLimits
  private readonly samples: Array<{ t: number, bytes: number }> = []
  private latencyFloor = Infinity
  private latencySince = 0
  private avgBlock = 0

  constructor (id: PeerId, channel: RequestChannel, limits: WindowLimits) {
    this.id = id
    this.key = id.toString()
    this.channel = channel
    this.limits = limits
  }

  /** A block arrived for a request sent at `sentAt`. */
  received (bytes: number, sentAt: number, now = Date.now()): void {
    this.bytesReceived += bytes
    this.blocksReceived++
    this.avgBlock = this.avgBlock === 0 ? bytes : this.avgBlock * 0.9 + bytes * 0.1
    this.samples.push({ t: now, bytes })
    while (this.samples.length > 1 && now - this.samples[0].t > RATE_WINDOW) this.samples.shift()
    if (now - this.latencySince > LATENCY_RESET) {
      this.latencyFloor = Infinity
      this.latencySince = now
    }
    this.latencyFloor = Math.min(this.latencyFloor, Math.max(MIN_LATENCY, now - sentAt))
  }

  /** Bytes per second over the last couple of seconds of arrivals (0 until two blocks arrived). */
  rate (): number {
    if (this.samples.length < 2) return 0
    const span = Math.max(this.samples[this.samples.length - 1].t - this.samples[0].t, 1)
    const bytes = this.samples.reduce((n, s) => n + s.bytes, 0) - this.samples[0].bytes
    return bytes / span * 1000
  }

  /** Requests to keep outstanding. */
  get window (): number {
    const rate = this.rate()
    if (rate === 0 || !Number.isFinite(this.latencyFloor) || this.avgBlock === 0) return this.limits.initial
    const inFlightBytes = rate * (2 * this.latencyFloor / 1000)
    const blocks = Math.ceil(inFlightBytes / this.avgBlock) + 2
    return Math.max(this.limits.min, Math.min(this.limits.max, blocks))
  }

  /** Free request slots. */
  get room (): number {
    return Math.max(0, this.window - this.inFlight.size)
  }

  /** The age of the oldest unanswered request in ms, or 0. */
  oldestRequestAge (now: number): number {
    let oldest = now
    for (const { sentAt } of this.inFlight.values()) {
      if (sentAt < oldest) oldest = sentAt
    }
    return now - oldest
  }
}
