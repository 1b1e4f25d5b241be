import fs from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from '../errors.js'
import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../content/profile.js'
import { MAX_MESSAGE_SIZE, MAX_REPLICA_MESSAGE_SIZE, MAX_REPLICA_STREAMS, MAX_SWARM_MESSAGE_SIZE, MAX_SWARM_STREAMS, MESSAGE_OVERHEAD } from '../protocol/constants.js'

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
  /** The replication group's key file: peers holding the same key keep replicas for each other ('': none). */
  groupKeyFile: string
  /** Peers trusted to ask us to keep replicas without a group key (PeerId strings). */
  trustedPeers: string[]
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
  limits: LimitsConfig
  replication: ReplicationConfig
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
  groupKeyFile: '',
  trustedPeers: []
}

export function defaultConfig (): ShoalConfig {
  return {
    listen: [`/ip4/0.0.0.0/tcp/${DEFAULT_PORT}`],
    announce: [],
    bootstrap: [],
    mdns: false,
    chunkSize: DEFAULT_CHUNK_SIZE,
    maxUploadRate: 0,
    maxDownloadRate: 0,
    maxStorage: 0,
    swarmKeyFile: '',
    api: '',
    apiAllowRemote: false,
    limits: { ...DEFAULT_LIMITS },
    replication: { ...DEFAULT_REPLICATION, trustedPeers: [] }
  }
}

/** Fill in defaults and check every field; throws ConfigError naming the bad field. */
export function validateConfig (input: unknown, source = 'config'): ShoalConfig {
  if (input == null || typeof input !== 'object' || Array.isArray(input)) {
    throw new ConfigError(`${source}: expected a JSON object`)
  }
  const raw = input as Record<string, any>
  const defaults = defaultConfig()
  const config: ShoalConfig = {
    listen: multiaddrList(raw.listen ?? defaults.listen, `${source}: listen`),
    announce: multiaddrList(raw.announce ?? defaults.announce, `${source}: announce`),
    bootstrap: multiaddrList(raw.bootstrap ?? defaults.bootstrap, `${source}: bootstrap`).map(a => checkBootstrap(a, `${source}: bootstrap`)),
    mdns: bool(raw.mdns ?? defaults.mdns, `${source}: mdns`),
    chunkSize: chunkSize(raw.chunkSize ?? defaults.chunkSize, `${source}: chunkSize`),
    maxUploadRate: rate(raw.maxUploadRate ?? defaults.maxUploadRate, `${source}: maxUploadRate`),
    maxDownloadRate: rate(raw.maxDownloadRate ?? defaults.maxDownloadRate, `${source}: maxDownloadRate`),
    maxStorage: rate(raw.maxStorage ?? defaults.maxStorage, `${source}: maxStorage`, 'bytes (0: unlimited)'),
    swarmKeyFile: str(raw.swarmKeyFile ?? defaults.swarmKeyFile, `${source}: swarmKeyFile`),
    api: raw.api == null || raw.api === '' ? '' : checkMultiaddr(raw.api, `${source}: api`),
    apiAllowRemote: bool(raw.apiAllowRemote ?? defaults.apiAllowRemote, `${source}: apiAllowRemote`),
    limits: { ...defaults.limits },
    replication: { ...defaults.replication, trustedPeers: [] }
  }
  if (raw.limits != null) {
    if (typeof raw.limits !== 'object') throw new ConfigError(`${source}: limits must be an object`)
    for (const [name, value] of Object.entries(raw.limits)) {
      if (!(name in defaults.limits)) throw new ConfigError(`${source}: unknown limit "${name}"`)
      config.limits[name as keyof LimitsConfig] = positiveInt(value, `${source}: limits.${name}`)
    }
    if (config.limits.maxMessageSize < config.chunkSize + MESSAGE_OVERHEAD) {
      throw new ConfigError(`${source}: limits.maxMessageSize must be at least chunkSize + ${MESSAGE_OVERHEAD} bytes (${config.chunkSize + MESSAGE_OVERHEAD})`)
    }
  }
  if (raw.replication != null) {
    if (typeof raw.replication !== 'object') throw new ConfigError(`${source}: replication must be an object`)
    for (const [name, value] of Object.entries(raw.replication)) {
      if (!(name in defaults.replication)) throw new ConfigError(`${source}: unknown replication setting "${name}"`)
      const what = `${source}: replication.${name}`
      if (name === 'groupKeyFile') config.replication.groupKeyFile = str(value, what)
      else if (name === 'trustedPeers') config.replication.trustedPeers = peerIdList(value, what)
      else (config.replication as unknown as Record<string, number>)[name] = name === 'repairRate' ? rate(value, what) : positiveInt(value, what)
    }
    if (config.replication.replicas > MAX_REPLICAS) throw new ConfigError(`${source}: replication.replicas must be at most ${MAX_REPLICAS}`)
  }
  return config
}

/** Most copies of one root the swarm keeps (and holders a replica message may name). */
export const MAX_REPLICAS = 64

export function chunkSize (value: unknown, what = 'chunk size'): number {
  const n = positiveInt(value, what)
  if (n < MIN_CHUNK_SIZE || n > MAX_CHUNK_SIZE) {
    throw new ConfigError(`${what} must be between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} bytes, got ${n}`)
  }
  return n
}

export async function readConfig (file: string): Promise<ShoalConfig> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err: any) {
    throw new ConfigError(`cannot read ${file}: ${err.code ?? err.message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err: any) {
    throw new ConfigError(`${file} is not valid JSON: ${err.message}`)
  }
  return validateConfig(json, file)
}

export async function writeConfig (file: string, config: ShoalConfig): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`
  await fs.writeFile(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 })
  await fs.rename(tmp, file)
}

/** A list of PeerId strings (e.g. 12D3KooW…), each checked. */
export function peerIdList (value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new ConfigError(`${what} must be a list of peer ids`)
  return value.map(v => {
    try {
      return peerIdFromString(String(v)).toString()
    } catch {
      throw new ConfigError(`${what}: not a peer id: ${JSON.stringify(v)}`)
    }
  })
}

function multiaddrList (value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new ConfigError(`${what} must be a list of multiaddrs`)
  return value.map(v => checkMultiaddr(v, what))
}

export function checkMultiaddr (value: unknown, what = 'multiaddr'): string {
  if (typeof value !== 'string') throw new ConfigError(`${what}: expected a multiaddr string`)
  try {
    return multiaddr(value).toString()
  } catch {
    throw new ConfigError(`${what}: not a valid multiaddr: ${JSON.stringify(value)}`)
  }
}

/**
 * A bootstrap address must name the peer (/p2p/<peer id>): the connection is
 * encrypted to that identity, and without it Shoal cannot know whom it reached.
 */
export function checkBootstrap (value: unknown, what = 'bootstrap'): string {
  const address = checkMultiaddr(value, what)
  const id = multiaddr(address).getComponents().findLast(c => c.name === 'p2p')?.value
  if (id == null) {
    throw new ConfigError(`${what}: ${address} has no /p2p/<peer id>; give the peer's full address (\`shoal id\` on that peer prints it)`)
  }
  try {
    peerIdFromString(id)
  } catch {
    throw new ConfigError(`${what}: ${address} names no valid peer id`)
  }
  return address
}

function rate (value: unknown, what: string, unit = 'bytes per second (0: unlimited)'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(`${what} must be a number of ${unit}`)
  }
  return value
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3 }

/**
 * Parse a rate such as "10MB", "512KiB", "2.5m" or "0" (bytes per second;
 * a trailing "/s" is allowed). Decimal units are powers of 1000, binary ones
 * (KiB, MiB, GiB) of 1024.
 */
export function parseRate (text: string, what = 'rate'): number {
  const n = parseBytes(text, true)
  if (n == null) throw new ConfigError(`${what}: not a rate: ${JSON.stringify(text)} (try 10MB, 512KiB or 0 for unlimited)`)
  return n
}

/** Parse an amount of bytes such as "20GB", "512MiB" or "0" (units as parseRate). */
export function parseSize (text: string, what = 'size'): number {
  const n = parseBytes(text, false)
  if (n == null) throw new ConfigError(`${what}: not a size: ${JSON.stringify(text)} (try 20GB, 512MiB or 0 for unlimited)`)
  return n
}

function parseBytes (text: string, perSecond: boolean): number | undefined {
  const m = (perSecond ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:\/s)?\s*$/i : /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i).exec(text)
  const unit = m?.[2].toLowerCase()
  if (m == null || unit == null || !(unit in UNITS)) return undefined
  return Math.round(Number(m[1]) * UNITS[unit])
}

function str (value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ConfigError(`${what} must be a string`)
  return value
}

function bool (value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`${what} must be true or false`)
  return value
}

function positiveInt (value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${what} must be a positive integer`)
  }
  return value
}
