import { contentRoutingSymbol } from '@libp2p/interface'
import merge from 'it-merge'
import type { ContentDiscovery } from './content-discovery.js'
import type { AbortOptions, ContentRouting, Logger, PeerInfo, PeerStore } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** A libp2p service that routes content: a KadDHT, whose content routing is under libp2p's symbol. */
type ContentRouter = object

function routingOf (service: ContentRouter): ContentRouting {
  const routing = (service as { [contentRoutingSymbol]?: ContentRouting })[contentRoutingSymbol]
  if (routing == null) throw new TypeError('this DHT service routes no content')
  return routing
}

export interface DhtDiscoveryComponents {
  /** Shoal's own DHT (`/shoal/kad/1.0.0`). */
  dht: ContentRouter
  /** The IPFS DHT (`/ipfs/kad/1.0.0`), if this peer takes part in it. */
  ipfsDht?: ContentRouter
  peerStore: PeerStore
  log: Logger
}

/**
 * Content discovery through the Kademlia DHT on Shoal's protocol and, if
 * on, the IPFS DHT beside it: providers are looked for in both at once, and
 * a root is provided in both. Shoal's DHT decides whether a provide worked
 * (the announcer retries it); the IPFS DHT is provided to on the side, its
 * failures logged, so a swarm with no IPFS peers around is not slowed or
 * failed by it. Providers' addresses go into the peer store so the block
 * protocols can dial them by PeerId.
 */
export class DhtDiscovery implements ContentDiscovery {
  private readonly shoal: ContentRouting
  private readonly ipfs?: ContentRouting

  constructor (private readonly components: DhtDiscoveryComponents) {
    this.shoal = routingOf(components.dht)
    this.ipfs = components.ipfsDht == null ? undefined : routingOf(components.ipfsDht)
  }

  async * findProviders (cid: CID, options?: AbortOptions): AsyncIterable<PeerInfo> {
    const sources = [this.shoal, ...(this.ipfs == null ? [] : [this.ipfs])].map(r => r.findProviders(cid, options))
    const seen = new Set<string>()
    for await (const provider of merge(...sources)) {
      if (provider.multiaddrs.length > 0) {
        await this.components.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }, options)
      }
      const key = provider.id.toString()
      if (seen.has(key)) continue
      seen.add(key)
      yield provider
    }
  }

  async provide (cid: CID, options?: AbortOptions): Promise<void> {
    if (this.ipfs != null) {
      this.ipfs.provide(cid, options).catch(err => {
        this.components.log('providing %s in the IPFS DHT failed: %s', cid, err.message)
      })
    }
    await this.shoal.provide(cid, options)
  }

  async withdraw (cid: CID, options?: AbortOptions): Promise<void> {
    // stops the DHTs' reproviders from renewing our records
    await Promise.all([this.shoal, ...(this.ipfs == null ? [] : [this.ipfs])].map(async r => { await r.cancelReprovide(cid, options) }))
  }
}
