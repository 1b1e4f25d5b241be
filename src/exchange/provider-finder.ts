import type { AbortOptions, PeerInfo } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * What a download needs of content routing: the peers that claim to hold a
 * root, as they are found. The routing layer (the DHT) implements it, and
 * tests give a fixed list; the exchange never imports routing.
 */
export interface ProviderFinder {
  findProviders(cid: CID, options?: AbortOptions): AsyncIterable<PeerInfo>
}
