import type { RequestChannel } from '../protocol/block-network.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** One download's view of one peer: what we asked it, what it lacks, what it sent. */
export class PeerState {
  readonly id: PeerId
  readonly key: string
  readonly channel: RequestChannel
  /** Requests sent and not answered: CID string → time sent (ms). */
  readonly inFlight = new Map<string, { cid: CID, sentAt: number }>()
  /** Blocks this peer said it does not have. */
  readonly lacks = new Set<string>()
  /** How many requests to keep outstanding with this peer. */
  window: number
  bytesReceived = 0
  blocksReceived = 0

  constructor (id: PeerId, channel: RequestChannel, window: number) {
    this.id = id
    this.key = id.toString()
    this.channel = channel
    this.window = window
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
