import { contentRoutingSymbol } from '@libp2p/interface'
import merge from 'it-merge'
import { TypedEventEmitter } from 'main-event'
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

/**
 * One DHT operation: a provide (`ok` once stored, or `error`), or a provider
 * lookup (`ok` with the time to the first provider found, `empty` if it
 * ended with none, `error` if it failed).
 */
export interface RoutingQuery {
  op: 'provide' | 'find'
  dht: 'shoal' | 'ipfs'
  outcome: 'ok' | 'empty' | 'error'
  seconds: number
}

export interface DiscoveryEvents {
  query: CustomEvent<RoutingQuery>
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
export class DhtDiscovery extends TypedEventEmitter<DiscoveryEvents> implements ContentDiscovery {
  private readonly shoal: ContentRouting
  private readonly ipfs?: ContentRouting

  constructor (private readonly components: DhtDiscoveryComponents) {
    super()
    this.shoal = routingOf(components.dht)
    this.ipfs = components.ipfsDht == null ? undefined : routingOf(components.ipfsDht)
  }

  async * findProviders (cid: CID, options?: AbortOptions): AsyncIterable<PeerInfo> {
    const sources = [this.timedFind('shoal', this.shoal.findProviders(cid, options))]
    if (this.ipfs != null) sources.push(this.timedFind('ipfs', this.ipfs.findProviders(cid, options)))
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
      this.timedProvide('ipfs', this.ipfs.provide(cid, options)).catch(err => {
        this.components.log('providing %s in the IPFS DHT failed: %s', cid, err.message)
      })
    }
    await this.timedProvide('shoal', this.shoal.provide(cid, options))
  }

  private async timedProvide (dht: RoutingQuery['dht'], providing: Promise<void>): Promise<void> {
    const started = Date.now()
    try {
      await providing
      this.record({ op: 'provide', dht, outcome: 'ok', seconds: (Date.now() - started) / 1000 })
    } catch (err) {
      this.record({ op: 'provide', dht, outcome: 'error', seconds: (Date.now() - started) / 1000 })
      throw err
    }
  }

  /** A lookup, timed to its first provider (or to its end, when it finds none). */
  private async * timedFind (dht: RoutingQuery['dht'], source: AsyncIterable<PeerInfo>): AsyncGenerator<PeerInfo> {
    const started = Date.now()
    let outcome: RoutingQuery['outcome'] | undefined
    try {
      for await (const provider of source) {
        if (outcome == null) {
          outcome = 'ok'
          this.record({ op: 'find', dht, outcome, seconds: (Date.now() - started) / 1000 })
        }
        yield provider
      }
    } catch (err: any) {
      // a lookup its caller ended (it found enough elsewhere, or gave up) did not fail
      if (outcome == null && err.name !== 'AbortError') outcome = 'error'
      throw err
    } finally {
      if (outcome !== 'ok') this.record({ op: 'find', dht, outcome: outcome ?? 'empty', seconds: (Date.now() - started) / 1000 })
    }
  }

  private record (query: RoutingQuery): void {
    this.safeDispatchEvent('query', { detail: query })
  }

  async withdraw (cid: CID, options?: AbortOptions): Promise<void> {
    // stops the DHTs' reproviders from renewing our records
    await Promise.all([this.shoal, ...(this.ipfs == null ? [] : [this.ipfs])].map(async r => { await r.cancelReprovide(cid, options) }))
  }
}
