import type { VerifiedBlock } from '../content/verify.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * What a download hears back from a peer it asked for blocks, whatever the protocol.
 *
 * @public for block sources to implement
 */
export interface BlockChannelEvents {
  /** A block that hashed to the CID it was sent as. */
  onBlock(block: VerifiedBlock): void
  /** A block whose bytes did not match its CID: the peer lied or is broken. */
  onInvalidBlock(cid: CID | undefined, err: Error): void
  onDontHave(cid: CID): void
  /** The channel ended or failed; no more events follow. */
  onClose(err?: Error): void
}

/** A download's way of asking one peer for blocks. */
export interface BlockChannel {
  readonly isOpen: boolean
  want(cids: CID[]): Promise<void>
  cancel(cids: CID[]): Promise<void>
  close(): Promise<void>
}

/**
 * A block protocol as a download sees it: a way to open a channel to a peer.
 * Shoal's own `/shoal/blocks` (`BlockNetwork`) is one; another protocol
 * feeds the same sessions by implementing this, and the peer pool tries the
 * sources in order, so the scheduler, the want lists and the verification
 * never change.
 */
export interface BlockSource {
  /** Names the protocol in logs. */
  readonly name: string
  openChannel(peer: PeerId, events: BlockChannelEvents, options?: AbortOptions): Promise<BlockChannel>
  /** The connection's measured round trip to `peer` (ms), if known. */
  rttOf(peer: PeerId): number | undefined
}
