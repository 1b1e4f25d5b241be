import type { ContentDiscovery } from './content-discovery.js'
import type { AbortOptions, ContentRouting, PeerInfo, PeerStore } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface DhtDiscoveryComponents {
  contentRouting: ContentRouting
  peerStore: PeerStore
}

/**
 * Content discovery through libp2p's content routing (the Kademlia DHT on
 * Shoal's protocol). Providers' addresses are recorded in the peer store so
 * the block network can dial them by PeerId.
 */
export class DhtDiscovery implements ContentDiscovery {
  constructor (private readonly components: DhtDiscoveryComponents) {}

  async * findProviders (cid: CID, options?: AbortOptions): AsyncIterable<PeerInfo> {
    for await (const provider of this.components.contentRouting.findProviders(cid, options)) {
      if (provider.multiaddrs.length > 0) {
        await this.components.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }, options)
      }
      yield provider
    }
  }

  async provide (cid: CID, options?: AbortOptions): Promise<void> {
    await this.components.contentRouting.provide(cid, options)
  }

  async withdraw (cid: CID, options?: AbortOptions): Promise<void> {
    // stops the DHT's reprovider from renewing our record
    await this.components.contentRouting.cancelReprovide(cid, options)
  }
}
