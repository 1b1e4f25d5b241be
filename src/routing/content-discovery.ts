import type { ProviderFinder } from '../exchange/provider-finder.js'
import type { AbortOptions, PeerInfo } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/**
 * How a peer finds who holds a root, and tells others that it does. The
 * daemon uses the DHT; tests may use a fixed list.
 */
export interface ContentDiscovery extends ProviderFinder {
  /** Peers that claim to hold `cid`, as they are found. */
  findProviders(cid: CID, options?: AbortOptions): AsyncIterable<PeerInfo>
  /** Announce that this peer holds `cid`. */
  provide(cid: CID, options?: AbortOptions): Promise<void>
  /** Stop announcing `cid` (it is no longer held); records already out expire on their own. */
  withdraw(cid: CID, options?: AbortOptions): Promise<void>
}
