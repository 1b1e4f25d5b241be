import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { uPnPNAT } from '@libp2p/upnp-nat'
import { multiaddr } from '@multiformats/multiaddr'
import { QuotaExceededError } from '../errors.js'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { ping } from '@libp2p/ping'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { isLoopback } from '@libp2p/utils'
import { DIAL_TIMEOUT, EVENT_LOOP_SAMPLE_INTERVAL } from './constants.js'
import { createLibp2p } from 'libp2p'
import { dialOrder } from './dial-order.js'
import { connectionEncrypters } from './encryption.js'
import { groupRelay } from './group-relay.js'
import { reachability } from './reachability.js'
import { directUpgrade } from './direct-upgrade.js'
import { bitswapNetwork } from '../protocol/bitswap-network.js'
import { blockNetwork } from '../protocol/block-network.js'
import { IPFS_DHT_PROTOCOL } from '../routing/constants.js'
import { replicaNetwork } from '../protocol/replica-network.js'
import { swarmNetwork } from '../protocol/swarm-network.js'
import { ProviderRecordQuota } from '../routing/provider-quota.js'
import type { ShoalConfig } from '../config/schema.js'
import type { BitswapNetwork } from '../protocol/bitswap-network.js'
import type { BlockNetwork } from '../protocol/block-network.js'
import type { ReplicaNetwork } from '../protocol/replica-network.js'
import type { SwarmNetwork } from '../protocol/swarm-network.js'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Reachability } from './reachability.js'
import type { DirectUpgrade } from './direct-upgrade.js'
import type { Identify, IdentifyPush } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { PeerDiscovery, PeerId, PrivateKey, Libp2p, ComponentLogger, Transport } from '@libp2p/interface'
import type { Ping } from '@libp2p/ping'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Datastore } from 'interface-datastore'
import type { Registry } from 'prom-client'

/** Shoal's DHT runs on its own protocol, apart from the public IPFS DHT. */
export const DHT_PROTOCOL = '/shoal/kad/1.0.0'

/**
 * What we tell other peers (identify, DHT records): a daemon listening on
 * 0.0.0.0 also has 127.0.0.1, which on any other machine is that machine, so
 * loopback addresses are left out, unless they are all we have (peers on one
 * machine, the tests).
 */
function reachableFromOthers (addrs: Multiaddr[]): Multiaddr[] {
  const others = addrs.filter(a => !isLoopback(a))
  return others.length > 0 ? others : addrs
}

/** Where the DHTs keep their records in the repo's datastore. */
const DHT_DATASTORE_PREFIX = '/shoal/dht'
const IPFS_DHT_DATASTORE_PREFIX = '/shoal/ipfs-dht'

/**
 * Shoal finds content through provider records only and stores no DHT
 * values: every PUT_VALUE is refused, so no peer can fill our disk with
 * records (public-key records included, which anyone can mint by the million).
 */
async function refuseValues (): Promise<void> {
  throw new QuotaExceededError('this peer stores no DHT values')
}

type ShoalServices = {
  identify: Identify
  identifyPush: IdentifyPush
  /** Moves a relayed connection onto a direct one once the peer has an address we can dial. */
  directUpgrade: DirectUpgrade
  ping: Ping
  dht: KadDHT
  blocks: BlockNetwork
  swarm: SwarmNetwork
  replicas: ReplicaNetwork
  /** With `bitswap` on. */
  bitswap?: BitswapNetwork
  /** Whether others can dial us, and the relays we hold reservations on while they cannot. */
  reachability: Reachability
  /** With `relay.service` on: a circuit relay for the replication group. */
  relay?: CircuitRelayService
  /** With `ipfsDht` on: the IPFS DHT, apart from Shoal's. */
  ipfsDht?: KadDHT
}

export type ShoalLibp2p = Libp2p<ShoalServices>

export interface Libp2pOptions {
  privateKey: PrivateKey
  datastore: Datastore
  config: ShoalConfig
  /** DHT bucket size; small values make tests exercise multi-hop routing. */
  kBucketSize?: number
  /** Whether a peer is a known member of our replication group (the relay service relays members without limits). */
  isMember?(peer: PeerId): boolean
  /** Peers refused at the connection gater (banned for lying). */
  isBanned?(peer: string): boolean
  /** A peer sent something that breaks a Shoal protocol. */
  onViolation?(peer: string, err: Error): void
  /** A libp2p pre-shared key (private swarm): only peers holding it can connect. */
  swarmKey?: Uint8Array
  /** Paces reading of block data (the download rate limit). */
  downloadThrottle?(bytes: number): Promise<void> | undefined
  logger?: ComponentLogger
  /** libp2p's metrics (connections, streams and bytes per protocol, the DHTs') go here, as Prometheus metrics. */
  metricsRegistry?: Registry
  /** Where the repo is: the metrics' file-system usage is of its disk. */
  repoRoot?: string
}

/**
 * The libp2p node of a Shoal peer: TCP, TLS or noise (always encrypted), yamux,
 * identify, ping and Kademlia on `/shoal/kad/1.0.0` in server mode. The
 * address mapper keeps private and loopback addresses, so a swarm on a LAN
 * or one machine works; mDNS (if on) finds neighbours on the LAN.
 */
export async function createShoalLibp2p (options: Libp2pOptions): Promise<ShoalLibp2p> {
  const { config } = options
  // bootstrap peers are dialled by the node's Bootstrapper, which says how each went
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (config.mdns) {
    peerDiscovery.push(mdns())
  }

  // the gater needs the node to count a peer's connections
  const made: { node?: ShoalLibp2p } = {}
  const tooMany = (peer: import('@libp2p/interface').PeerId): boolean =>
    (made.node?.getConnections(peer).length ?? 0) >= config.limits.maxConnectionsPerPeer
  const onViolation = (peer: PeerId, err: Error): void => { options.onViolation?.(peer.toString(), err) }
  // other peers' provider records are bounded (kad-dht itself stores any number)
  const quotas = [DHT_DATASTORE_PREFIX, ...(config.ipfsDht ? [IPFS_DHT_DATASTORE_PREFIX] : [])].map(prefix => new ProviderRecordQuota({
    logger: options.logger,
    prefix: `${prefix}/provider`,
    self: peerIdFromPrivateKey(options.privateKey).toString(),
    perPeer: config.limits.maxProviderRecordsPerPeer,
    total: config.limits.maxProviderRecords
  }))
  let datastore = options.datastore
  for (const quota of quotas) {
    await quota.load(options.datastore)
    datastore = quota.wrap(datastore)
  }
  // optional services, typed in ShoalServices as optional
  const ipfsServices: Record<string, (components: any) => unknown> = {}
  if (config.bitswap) {
    ipfsServices.bitswap = bitswapNetwork({
      maxMessageSize: config.limits.maxMessageSize,
      idleTimeout: config.limits.streamIdleTimeout,
      onViolation,
      downloadThrottle: options.downloadThrottle
    })
  }
  // NAT traversal where a NAT may be: a daemon listening beyond loopback asks its router (if it
  // speaks UPnP IGD) to forward its port, the mapped address trusted at once as the router reports
  // it, and listens for WebRTC through its relays: each relayed address gets a `/webrtc` twin, which
  // libp2p dials before the relayed one (signalling over the relay, then ICE punches a UDP path;
  // where the NATs do not allow it the dial falls back to the relay). WebRTC connections skip
  // libp2p's connection protector, so a private swarm never uses them.
  const beyondLoopback = config.listen.some(a => !isLoopback(multiaddr(a)) && !a.includes('/p2p-circuit'))
  if (config.upnp && beyondLoopback) {
    ipfsServices.upnp = uPnPNAT({ autoConfirmAddress: true, portMappingDescription: 'shoal' })
  }
  const transports: Array<(components: any) => Transport> = [tcp(), circuitRelayTransport()]
  const listen = [...config.listen]
  if (config.holePunching && beyondLoopback && options.swarmKey == null) {
    // a native module (node-datachannel, prebuilt binaries from npm): where none fits the platform,
    // the daemon runs without hole punching rather than not at all
    const webRTC = await import('@libp2p/webrtc').then(m => m.webRTC, err => {
      options.logger?.forComponent('shoal:nat').error('hole punching off: WebRTC could not load: %s', err.message)
      return undefined
    })
    if (webRTC != null) {
      transports.push(webRTC({ rtcConfiguration: { iceServers: config.stunServers.map(url => ({ urls: [url] })) } }))
      listen.push('/webrtc')
    }
  }
  if (config.relay.service) {
    ipfsServices.relay = groupRelay({
      isMember: peer => options.isMember?.(peer) ?? false,
      maxReservations: config.relay.maxReservations,
      strangerDataLimit: config.relay.strangerDataLimit,
      strangerDurationLimit: config.relay.strangerDurationLimit,
      memberRate: config.relay.memberRate
    })
  }
  if (config.ipfsDht) {
    ipfsServices.ipfsDht = kadDHT({
      protocol: IPFS_DHT_PROTOCOL,
      clientMode: false,
      peerInfoMapper: passthroughMapper,
      logPrefix: 'shoal:ipfs-dht',
      datastorePrefix: IPFS_DHT_DATASTORE_PREFIX,
      validators: { pk: refuseValues, ipns: refuseValues },
      maxInboundStreams: config.limits.maxDhtStreamsPerPeer,
      metricsPrefix: 'shoal_ipfs_dht'
    })
  }
  const node = await createLibp2p({
    start: false,
    privateKey: options.privateKey,
    datastore,
    logger: options.logger,
    metrics: options.metricsRegistry == null
      ? undefined
      : (await import('@libp2p/prometheus-metrics')).prometheusMetrics({
          registry: options.metricsRegistry,
          statfsLocation: options.repoRoot,
          defaultMetrics: { eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_INTERVAL }
        }),
    addresses: {
      listen,
      announce: config.announce,
      announceFilter: reachableFromOthers
    },
    // TCP, circuit relay v2 (a peer behind NAT is reached through a relay it holds a reservation on), WebRTC (above)
    transports,
    // TLS 1.3 first, noise (each session key imported once) for peers without it: encryption.ts
    connectionEncrypters: connectionEncrypters(),
    connectionProtector: options.swarmKey == null ? undefined : preSharedKey({ psk: options.swarmKey }),
    streamMuxers: [yamux({
      maxInboundStreams: config.limits.maxStreamsPerConnection,
      maxOutboundStreams: config.limits.maxStreamsPerConnection
    })],
    peerDiscovery,
    connectionGater: {
      denyDialPeer: peer => options.isBanned?.(peer.toString()) ?? false,
      denyInboundEncryptedConnection: peer => (options.isBanned?.(peer.toString()) ?? false) || tooMany(peer)
    },
    // libp2p's connection monitor opens a ping stream on every connection every 10 s (and by default
    // aborts the connection when one fails). Yamux already sends a keepalive ping frame on every
    // connection every 30 s, which keeps idle connections open and measures their round trip; dead
    // peers are found by Shoal's own protocols (a refused dial, a timeout). The monitor's streams
    // were the largest cost of an idle daemon: measured with 24 daemons on loopback, 0.77-0.87 % of
    // a core each with its pings every 60 s, 0.20-0.23 % without them.
    connectionMonitor: { enabled: false },
    connectionManager: {
      addressSorter: dialOrder,
      // a WebRTC attempt that finds no path takes up to 6 s: the relay after it still gets its turn
      dialTimeout: DIAL_TIMEOUT,
      maxConnections: config.limits.maxConnections,
      inboundConnectionThreshold: config.limits.inboundConnectionThreshold,
      maxIncomingPendingConnections: config.limits.maxPendingConnections
    },
    services: {
      identify: identify(),
      // tells connected peers when our addresses change (a port mapped, a relay reserved), so they can
      // move a relayed connection to us onto a direct one (direct-upgrade.ts); not over a connection a
      // relay limits (a stranger's: it carries no transfer, and its data allowance is the relay's)
      identifyPush: identifyPush({ runOnLimitedConnection: false }),
      directUpgrade: directUpgrade(),
      reachability: reachability({
        announced: config.announce.length > 0,
        maxRelays: config.relay.maxRelays,
        isMember: peer => options.isMember?.(peer) ?? false
      }),
      // each DHT pings a new contact before it enters its routing table: with two DHTs (Shoal's and
      // the IPFS one) two pings to one peer at once are the rule, not a collision
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 4 }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        kBucketSize: options.kBucketSize,
        logPrefix: 'shoal:dht',
        datastorePrefix: DHT_DATASTORE_PREFIX,
        validators: { pk: refuseValues },
        maxInboundStreams: config.limits.maxDhtStreamsPerPeer,
        metricsPrefix: 'shoal_dht'
      }),
      blocks: blockNetwork({
        maxInboundStreams: config.limits.maxInboundStreamsPerPeer,
        maxMessageSize: config.limits.maxMessageSize,
        idleTimeout: config.limits.streamIdleTimeout,
        onViolation,
        downloadThrottle: options.downloadThrottle
      }),
      swarm: swarmNetwork({
        maxInboundStreams: config.limits.maxSwarmStreamsPerPeer,
        maxMessageSize: config.limits.maxSwarmMessageSize,
        idleTimeout: config.limits.streamIdleTimeout,
        onViolation
      }),
      replicas: replicaNetwork({
        maxInboundStreams: config.limits.maxReplicaStreamsPerPeer,
        maxMessageSize: config.limits.maxReplicaMessageSize,
        onViolation
      }),
      ...ipfsServices
    }
  }) as ShoalLibp2p
  made.node = node
  return node
}

/** kad-dht's routing table: its interface does not name it, its class has one (size, remove). */
export function dhtRoutingTable (node: ShoalLibp2p): { size?: number, remove?(peer: PeerId): Promise<void> } | undefined {
  return (node.services.dht as unknown as { routingTable?: { size?: number, remove?(peer: PeerId): Promise<void> } }).routingTable
}
