import type { RequestChannelEvents } from '../protocol/block-network.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * What a download hears back from a peer it asked for blocks: a verified
 * block, a block that failed verification, "don't have", the end. Every
 * block source reports these; `/shoal/blocks` defines them.
 *
 * @public for block sources to implement
 */
export type BlockChannelEvents = RequestChannelEvents

/** A download's way of asking one peer for blocks. */
export interface BlockChannel {
  /** The block protocol it speaks (its source's name): what the ledger counts its blocks under. */
  readonly protocol: string
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
