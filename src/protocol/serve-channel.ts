import type { VerifiedBlock } from '../content/verify.js'
import type { ProtocolViolationError } from '../errors.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** What a server hears from a peer that asks it for blocks. */
export interface ServeChannelEvents {
  /**
   * Blocks wanted (best first) and no longer wanted; `have` are blocks the
   * peer only asks whether we hold (Bitswap's want-have).
   */
  onRequest(want: CID[], cancel: CID[], have: CID[]): void
  onClose(err?: Error): void
}

/**
 * A peer asking us for blocks, whatever the protocol: `/shoal/blocks`
 * (one per stream) or Bitswap (one per peer, over whatever streams it
 * opens). The block server serves every kind alike, under one set of limits.
 */
export interface BlockServeChannel {
  readonly peer: PeerId
  /** The block protocol it speaks (its first id): what the ledger counts its blocks under. */
  readonly protocol: string
  readonly isOpen: boolean
  /** Requests the protocol lets a peer keep queued, if more than the server's own per-stream limit (Bitswap's want lists hold up to 1 024). */
  readonly maxQueued?: number
  /** Start hearing requests; call once, after wiring up the handlers. */
  listen(events: ServeChannelEvents): void
  sendBlock(block: VerifiedBlock): Promise<void>
  sendDontHave(cids: CID[]): Promise<void>
  /** Answer want-have requests: held, not held. */
  sendPresence(have: CID[], dontHave: CID[]): Promise<void>
  /** Stop serving this channel (the peer is banned, we stop, a write failed). */
  abort(err: Error): void
  /** The peer broke a limit (asked too much, too fast): count it against the peer and stop serving this channel. */
  violated(err: ProtocolViolationError): void
}

/** A protocol that hands the block server the peers that ask for blocks. */
export interface InboundBlockChannels {
  /** Set who serves (the block server), or nobody: the protocol answers only while someone does. */
  onInbound(handler: ((channel: BlockServeChannel) => void) | undefined): Promise<void>
}

/** A connection's muxer: yamux's keepalive measures the round trip (libp2p's connection monitor, which set `rtt`, is off). */
interface RttSource {
  muxer?: { getRTT?(): number }
}

/** The round trip to `peer` in ms as measured on one of its connections, if known. */
export function connectionRtt (connections: { getConnections(peer: PeerId): object[] }, peer: PeerId): number | undefined {
  // libp2p's Connection interface does not name its muxer; its class has it
  for (const conn of connections.getConnections(peer) as RttSource[]) {
    // yamux answers -1 until its first keepalive ping came back
    const rtt = conn.muxer?.getRTT?.()
    if (rtt != null && rtt >= 0) return rtt
  }
  return undefined
}
