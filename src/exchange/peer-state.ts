import { DEFAULT_CHUNK_SIZE } from '../content/profile.js'
import type { BlockChannel } from './block-source.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface WindowLimits {
  /** Requests outstanding before the peer's rate is known (at most INITIAL_WINDOW_BYTES of blocks once their size is known). */
  initial: number
  min: number
  max: number
}

/** How long a rate sample covers (ms), and the least span a rate is measured over (a burst is not a rate). */
const RATE_WINDOW = 2_000
const MIN_RATE_SPAN = 1_000
/**
 * Time the peer should have queued work for beyond one round trip (ms): it
 * covers its disk read and our next request's flight. Measured from the
 * connection, not from our own requests, so a peer's queue never inflates
 * its window (a slow peer's requests wait in its queue, and that wait must
 * not look like latency).
 */
const QUEUE_TIME = 300
/** Round trip assumed until the connection has measured one (ms). */
const DEFAULT_RTT = 50
/**
 * Bytes asked of a peer before its rate is known. Counted in bytes, not
 * blocks: eight 1 MiB leaves are four seconds of a 2 MB/s peer's upload, and
 * the first peers to answer would hold every block of a small file in their
 * queues while the others stood idle.
 */
const INITIAL_WINDOW_BYTES = 2 * 1024 * 1024

/**
 * One download's view of one peer: what we asked it, what it lacks, what it
 * sent, and how many requests to keep outstanding: enough to cover its
 * measured rate × latency (bytes in flight ≈ rate × RTT), within bounds.
 */
export class PeerState {
  readonly id: PeerId
  readonly key: string
  readonly channel: BlockChannel
  /** Requests sent and not answered: CID string → time sent (ms). */
  readonly inFlight = new Map<string, { cid: CID, sentAt: number }>()
  /** Blocks this peer said it does not have. */
  readonly lacks = new Set<string>()
  /** Of those, blocks it had told the swarm it held. */
  brokenClaims = 0
  bytesReceived = 0
  blocksReceived = 0
  private readonly limits: WindowLimits
  private readonly samples: Array<{ t: number, bytes: number }> = []
  private readonly rtt: () => number | undefined
  private avgBlock = 0
  /** When this peer last answered a request (a block or a "don't have"), ms. */
  private lastAnswer = 0

  /** `rtt` gives the connection's measured round trip in ms, if known. */
  constructor (id: PeerId, channel: BlockChannel, limits: WindowLimits, rtt: () => number | undefined = () => undefined) {
    this.id = id
    this.key = id.toString()
    this.channel = channel
    this.limits = limits
    this.rtt = rtt
  }

  /**
   * A block of `bytes` arrived. Only leaves count towards the block size the
   * window is counted in: a DAG's first block is its root, a few hundred
   * bytes, and a window of 2 MiB of those was every 1 MiB leaf of a small
   * file asked of the first peer to answer.
   */
  received (bytes: number, now = Date.now(), leaf = true): void {
    this.lastAnswer = now
    this.bytesReceived += bytes
    this.blocksReceived++
    if (leaf) this.avgBlock = this.avgBlock === 0 ? bytes : this.avgBlock * 0.9 + bytes * 0.1
    this.samples.push({ t: now, bytes })
    while (this.samples.length > 1 && now - this.samples[0].t > RATE_WINDOW) this.samples.shift()
  }

  /** Bytes per second over the last couple of seconds of arrivals (0 until two blocks arrived). */
  rate (): number {
    if (this.samples.length < 2) return 0
    const span = Math.max(this.samples[this.samples.length - 1].t - this.samples[0].t, MIN_RATE_SPAN)
    const bytes = this.samples.reduce((n, s) => n + s.bytes, 0) - this.samples[0].bytes
    return bytes / span * 1000
  }

  /**
   * Requests to keep outstanding: bytes in flight ≈ rate × (RTT + queue
   * time), bounded. Until the rate has been measured over a full span, never
   * fewer than the initial window (a rate over less than a span is a lower
   * bound, and a fast peer's first second must not run on a narrow window).
   */
  get window (): number {
    const initial = Math.max(this.limits.min, Math.min(this.limits.initial, Math.ceil(INITIAL_WINDOW_BYTES / (this.avgBlock > 0 ? this.avgBlock : DEFAULT_CHUNK_SIZE))))
    const rate = this.rate()
    if (rate === 0 || this.avgBlock === 0) return initial
    const seconds = ((this.rtt() ?? DEFAULT_RTT) + QUEUE_TIME) / 1000
    let blocks = Math.ceil(rate * seconds / this.avgBlock) + 1
    if (this.samples[this.samples.length - 1].t - this.samples[0].t < MIN_RATE_SPAN) blocks = Math.max(blocks, initial)
    return Math.max(this.limits.min, Math.min(this.limits.max, blocks))
  }

  /** Milliseconds this peer takes to send one block, at its measured rate (undefined until it is measured). */
  blockTime (): number | undefined {
    const rate = this.rate()
    if (rate === 0) return undefined
    return (this.avgBlock > 0 ? this.avgBlock : DEFAULT_CHUNK_SIZE) / rate * 1000
  }

  /**
   * Milliseconds until this peer should have sent `key`, which we asked it
   * for: it answers in order, so the blocks asked before it come first, at
   * its measured rate. Undefined when its rate is not known, or it has been
   * silent for longer than two blocks take it.
   */
  eta (key: string, now = Date.now()): number | undefined {
    const per = this.blockTime()
    if (per == null || !this.inFlight.has(key)) return undefined
    if (this.silentFor(now) > 2 * per) return undefined
    let position = 0
    for (const k of this.inFlight.keys()) {
      if (k === key) break
      position++
    }
    // the first is under way since the last answer (or since it was asked)
    let oldest = now
    for (const { sentAt } of this.inFlight.values()) oldest = Math.min(oldest, sentAt)
    const started = now - Math.max(this.lastAnswer, oldest)
    return (position + 1) * per - Math.min(started, per)
  }

  /** Free request slots. */
  get room (): number {
    return Math.max(0, this.window - this.inFlight.size)
  }

  /** The peer answered "don't have". */
  answered (now = Date.now()): void {
    this.lastAnswer = now
  }

  /**
   * How long the peer has owed us an answer without giving any, in ms: since
   * the later of its last answer and the oldest request still out (0 with
   * nothing in flight). A peer working through a queue of requests at a low
   * rate keeps answering; one that stalls does not.
   */
  silentFor (now: number): number {
    if (this.inFlight.size === 0) return 0
    let oldest = now
    for (const { sentAt } of this.inFlight.values()) {
      if (sentAt < oldest) oldest = sentAt
    }
    return now - Math.max(oldest, this.lastAnswer)
  }
}
