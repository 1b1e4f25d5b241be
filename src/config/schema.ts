import { DEFAULT_CHUNK_SIZE } from '../content/profile.js'
import { MAX_MESSAGE_SIZE, MAX_REPLICA_MESSAGE_SIZE, MAX_REPLICA_STREAMS, MAX_SWARM_MESSAGE_SIZE, MAX_SWARM_STREAMS, STREAM_IDLE_TIMEOUT } from '../protocol/constants.js'

/** Default TCP port of a Shoal peer (IPFS uses 4001; Shoal keeps clear of it). */
export const DEFAULT_PORT = 4401

export interface LimitsConfig {
  /** Most open libp2p connections. */
  maxConnections: number
  /** Inbound connections accepted per second from one host. */
  inboundConnectionThreshold: number
  /** Inbound connections being set up (encryption, muxer) at once. */
  maxPendingConnections: number
  /** Connections one peer may hold open with us (each brings its own stream limits). */
  maxConnectionsPerPeer: number
  /** Block requests one peer may have queued with us at once. */
  maxRequestsPerPeer: number
  /** Blocks being read and sent at once, across all peers. */
  maxConcurrentUploads: number
  /** Block-protocol streams one peer may open to us (per connection). */
  maxInboundStreamsPerPeer: number
  /** Swarm (availability) streams one peer may open to us (per connection). */
  maxSwarmStreamsPerPeer: number
  /** Replica-protocol streams one peer may have open with us (per connection). */
  maxReplicaStreamsPerPeer: number
  /** DHT streams one peer may open to us (per connection). */
  maxDhtStreamsPerPeer: number
  /** Streams of any protocol one connection may carry (the muxer's limit). */
  maxStreamsPerConnection: number
  /** A stream of any Shoal protocol (and Bitswap) with no message in or out for this long is closed (ms). */
  streamIdleTimeout: number
  /** Largest block-protocol message (at least chunkSize + 64 KiB). */
  maxMessageSize: number
  /** Largest swarm and replica messages. */
  maxSwarmMessageSize: number
  maxReplicaMessageSize: number
  /** DHT provider records kept for one other peer, and for all of them. */
  maxProviderRecordsPerPeer: number
  maxProviderRecords: number
  /** Blocks we keep requested from one peer at once. */
  requestWindow: number
  /** How long to wait for a requested block before asking someone else (ms). */
  requestTimeout: number
  /** How long a `get` waits with no reachable holder before it fails (ms). */
  providerTimeout: number
  /** How long a peer that lied (a block failing verification, blocks claimed and not served) or kept breaking the protocol is banned (ms). */
  banTime: number
  /** Protocol violations (malformed or oversized messages) within 10 minutes that get a peer banned. */
  maxViolations: number
}

export interface ReplicationConfig {
  /** Copies `add` asks for when no --replicas is given (1: only this peer's own). */
  replicas: number
  /** How often holders of a root probe each other (ms). */
  checkInterval: number
  /** A probe unanswered for this long is a failure (ms). */
  probeTimeout: number
  /** A holder down this long is replaced; a surplus copy this long is trimmed (ms). */
  gracePeriod: number
  /** Bytes per second all replica downloads of this peer may use together (0: unlimited). */
  repairRate: number
  /** Replica downloads running at once. */
  maxConcurrentRepairs: number
  /** How long a graceful stop waits for its replicas to be handed over (ms). */
  leaveTimeout: number
  /** Fragments of an erasure-coded root that may stay missing past the grace period before its leader rebuilds them (-1: ⌊(M − 1) / 2⌋). */
  erasureLazy: number
  /** The replication group's key file: peers holding the same key keep replicas for each other ('': none). */
  groupKeyFile: string
  /** Peers trusted to ask us to keep replicas without a group key (PeerId strings). */
  trustedPeers: string[]
}

export interface RelayConfig {
  /** Be a circuit relay: members of this peer's replication group reach each other through it without limits, anyone else within strangerDataLimit and strangerDurationLimit. */
  service: boolean
  /** Peers that may hold a reservation (be reachable through us) at once. */
  maxReservations: number
  /** Relays a peer others cannot dial holds a reservation on at once (its group's relays first; 0: none). */
  maxRelays: number
  /** Bytes one relayed connection with a stranger at either end may carry. */
  strangerDataLimit: number
  /** How long one relayed connection with a stranger at either end may last (ms). */
  strangerDurationLimit: number
  /** Bytes per second the relayed connections between members may carry together (0: unlimited). */
  memberRate: number
}

export interface ShoalConfig {
  /** Multiaddrs to listen on. */
  listen: string[]
  /** Multiaddrs to announce instead of the listen ones (e.g. a public address); empty: announce what we listen on. */
  announce: string[]
  /** Peers to connect to at start, as full multiaddrs with /p2p/. */
  bootstrap: string[]
  /** Find peers on the local network with mDNS. */
  mdns: boolean
  /** Ask the router to forward our port (UPnP IGD), so peers behind other NATs can dial us directly. */
  upnp: boolean
  /** Make relayed connections direct where the NATs allow it: WebRTC, its UDP path punched by ICE (off in a private swarm: WebRTC would skip the swarm key). */
  holePunching: boolean
  /** STUN servers ICE asks for this peer's public address when it punches a hole (stun:host:port). */
  stunServers: string[]
  /** Chunk size for `add` in bytes. */
  chunkSize: number
  /** Upload and download limits in bytes per second; 0: unlimited. */
  maxUploadRate: number
  maxDownloadRate: number
  /** Bytes this peer may store; replicas that would exceed it are declined (0: unlimited). */
  maxStorage: number
  /** Path of a libp2p pre-shared key: only peers holding the same key can connect ('' : an open swarm). */
  swarmKeyFile: string
  /** Also serve the control API on this TCP multiaddr, token required ('': only the Unix socket). */
  api: string
  /** Let `api` bind an address other than loopback. */
  apiAllowRemote: boolean
  /** Serve and fetch blocks over Bitswap too (IPFS peers: Helia, Kubo). */
  bitswap: boolean
  /** Take part in the IPFS DHT (`/ipfs/kad/1.0.0`) besides Shoal's own: provide roots there, find providers there. */
  ipfsDht: boolean
  /** Also join through the public IPFS bootstrap peers (a machine that reaches the internet). */
  ipfsBootstrap: boolean
  /** Serve a read-only trustless HTTP gateway on this TCP multiaddr ('': none). */
  gateway: string
  /** Let `gateway` bind an address other than loopback. */
  gatewayAllowRemote: boolean
  /** The gateway fetches from the swarm what this peer does not hold (false: only what is here). */
  gatewayFetch: boolean
  /** Serve Prometheus metrics (`GET /metrics`) and `GET /healthz` on this TCP multiaddr ('': none). */
  metrics: string
  /** Let `metrics` bind an address other than loopback. */
  metricsAllowRemote: boolean
  /** Serve the daemon's web page on this TCP multiaddr ('': none; port 0: the one it had last time, else one from the OS). */
  webui: string
  /** Let `webui` bind an address other than loopback (a phone on the LAN): sign-in still takes a link from `shoal webui`. */
  webuiAllowRemote: boolean
  limits: LimitsConfig
  replication: ReplicationConfig
  relay: RelayConfig
}

const DEFAULT_LIMITS: LimitsConfig = {
  maxConnections: 300,
  inboundConnectionThreshold: 50,
  maxPendingConnections: 16,
  maxConnectionsPerPeer: 4,
  maxRequestsPerPeer: 256,
  maxConcurrentUploads: 32,
  maxInboundStreamsPerPeer: 32,
  maxSwarmStreamsPerPeer: MAX_SWARM_STREAMS,
  maxReplicaStreamsPerPeer: MAX_REPLICA_STREAMS,
  maxDhtStreamsPerPeer: 32,
  maxStreamsPerConnection: 256,
  streamIdleTimeout: STREAM_IDLE_TIMEOUT,
  maxMessageSize: MAX_MESSAGE_SIZE,
  maxSwarmMessageSize: MAX_SWARM_MESSAGE_SIZE,
  maxReplicaMessageSize: MAX_REPLICA_MESSAGE_SIZE,
  maxProviderRecordsPerPeer: 50_000,
  maxProviderRecords: 500_000,
  requestWindow: 32,
  requestTimeout: 30_000,
  providerTimeout: 60_000,
  banTime: 3_600_000,
  maxViolations: 8
}

export const DEFAULT_REPLICATION: ReplicationConfig = {
  replicas: 1,
  checkInterval: 5_000,
  probeTimeout: 5_000,
  gracePeriod: 60_000,
  repairRate: 8 * 1024 * 1024,
  maxConcurrentRepairs: 2,
  leaveTimeout: 60_000,
  erasureLazy: -1,
  groupKeyFile: '',
  trustedPeers: []
}

const DEFAULT_RELAY: RelayConfig = {
  service: false,
  maxReservations: 64,
  maxRelays: 2,
  // libp2p's own defaults for every relayed connection: enough to set up a direct one
  strangerDataLimit: 128 * 1024,
  strangerDurationLimit: 120_000,
  memberRate: 0
}

export function defaultConfig (): ShoalConfig {
  return {
    listen: [`/ip4/0.0.0.0/tcp/${DEFAULT_PORT}`],
    announce: [],
    bootstrap: [],
    mdns: false,
    upnp: true,
    holePunching: true,
    // the public STUN servers libp2p's WebRTC transport uses by default
    stunServers: ['stun:stun.l.google.com:19302', 'stun:global.stun.twilio.com:3478', 'stun:stun.cloudflare.com:3478', 'stun:stun.services.mozilla.com:3478'],
    chunkSize: DEFAULT_CHUNK_SIZE,
    maxUploadRate: 0,
    maxDownloadRate: 0,
    maxStorage: 0,
    swarmKeyFile: '',
    api: '',
    apiAllowRemote: false,
    bitswap: true,
    ipfsDht: false,
    ipfsBootstrap: false,
    gateway: '',
    gatewayAllowRemote: false,
    gatewayFetch: true,
    metrics: '',
    metricsAllowRemote: false,
    webui: '/ip4/127.0.0.1/tcp/0',
    webuiAllowRemote: false,
    limits: { ...DEFAULT_LIMITS },
    replication: { ...DEFAULT_REPLICATION, trustedPeers: [] },
    relay: { ...DEFAULT_RELAY }
  }
}
