import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../content/profile.js'
import { ConfigError } from '../errors.js'
import { MESSAGE_OVERHEAD } from '../protocol/constants.js'
import { MAX_REPLICAS } from '../replication/constants.js'
import { defaultConfig } from './schema.js'
import { bool, positiveInt, rate, str } from './units.js'
import type { LimitsConfig, ShoalConfig } from './schema.js'

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
    upnp: bool(raw.upnp ?? defaults.upnp, `${source}: upnp`),
    holePunching: bool(raw.holePunching ?? defaults.holePunching, `${source}: holePunching`),
    stunServers: stunList(raw.stunServers ?? defaults.stunServers, `${source}: stunServers`),
    chunkSize: chunkSize(raw.chunkSize ?? defaults.chunkSize, `${source}: chunkSize`),
    maxUploadRate: rate(raw.maxUploadRate ?? defaults.maxUploadRate, `${source}: maxUploadRate`),
    maxDownloadRate: rate(raw.maxDownloadRate ?? defaults.maxDownloadRate, `${source}: maxDownloadRate`),
    maxStorage: rate(raw.maxStorage ?? defaults.maxStorage, `${source}: maxStorage`, 'bytes (0: unlimited)'),
    swarmKeyFile: str(raw.swarmKeyFile ?? defaults.swarmKeyFile, `${source}: swarmKeyFile`),
    api: raw.api == null || raw.api === '' ? '' : checkMultiaddr(raw.api, `${source}: api`),
    apiAllowRemote: bool(raw.apiAllowRemote ?? defaults.apiAllowRemote, `${source}: apiAllowRemote`),
    bitswap: bool(raw.bitswap ?? defaults.bitswap, `${source}: bitswap`),
    ipfsDht: bool(raw.ipfsDht ?? defaults.ipfsDht, `${source}: ipfsDht`),
    ipfsBootstrap: bool(raw.ipfsBootstrap ?? defaults.ipfsBootstrap, `${source}: ipfsBootstrap`),
    gateway: raw.gateway == null || raw.gateway === '' ? '' : checkMultiaddr(raw.gateway, `${source}: gateway`),
    gatewayAllowRemote: bool(raw.gatewayAllowRemote ?? defaults.gatewayAllowRemote, `${source}: gatewayAllowRemote`),
    gatewayFetch: bool(raw.gatewayFetch ?? defaults.gatewayFetch, `${source}: gatewayFetch`),
    metrics: raw.metrics == null || raw.metrics === '' ? '' : checkMultiaddr(raw.metrics, `${source}: metrics`),
    metricsAllowRemote: bool(raw.metricsAllowRemote ?? defaults.metricsAllowRemote, `${source}: metricsAllowRemote`),
    webui: raw.webui == null ? defaults.webui : raw.webui === '' ? '' : checkMultiaddr(raw.webui, `${source}: webui`),
    webuiAllowRemote: bool(raw.webuiAllowRemote ?? defaults.webuiAllowRemote, `${source}: webuiAllowRemote`),
    limits: { ...defaults.limits },
    replication: { ...defaults.replication, trustedPeers: [] },
    relay: { ...defaults.relay }
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
      else if (name === 'erasureLazy') config.replication.erasureLazy = lazyFragments(value, what)
      else (config.replication as unknown as Record<string, number>)[name] = name === 'repairRate' ? rate(value, what) : positiveInt(value, what)
    }
    if (config.replication.replicas > MAX_REPLICAS) throw new ConfigError(`${source}: replication.replicas must be at most ${MAX_REPLICAS}`)
  }
  if (raw.relay != null) {
    if (typeof raw.relay !== 'object') throw new ConfigError(`${source}: relay must be an object`)
    for (const [name, value] of Object.entries(raw.relay)) {
      if (!(name in defaults.relay)) throw new ConfigError(`${source}: unknown relay setting "${name}"`)
      const what = `${source}: relay.${name}`
      if (name === 'service') config.relay.service = bool(value, what)
      else (config.relay as unknown as Record<string, number>)[name] = name === 'maxRelays' ? rate(value, what, 'relays (0: none)') : name === 'memberRate' ? rate(value, what) : positiveInt(value, what)
    }
  }
  return config
}

export function chunkSize (value: unknown, what = 'chunk size'): number {
  const n = positiveInt(value, what)
  if (n < MIN_CHUNK_SIZE || n > MAX_CHUNK_SIZE) {
    throw new ConfigError(`${what} must be between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} bytes, got ${n}`)
  }
  return n
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

/** STUN servers as ICE takes them: stun:host:port. */
export function stunList (value: unknown, what: string): string[] {
  if (!Array.isArray(value)) throw new ConfigError(`${what} must be a list of stun:host:port`)
  return value.map(v => {
    if (typeof v !== 'string' || !/^stun:[^\s:]+(:\d{1,5})?$/.test(v)) throw new ConfigError(`${what}: not a STUN server (stun:host:port): ${JSON.stringify(v)}`)
    return v
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

/** -1 (the default rule) or a whole number of fragments. */
function lazyFragments (value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < -1) throw new ConfigError(`${what}: not a number of fragments: ${JSON.stringify(value)} (a whole number, or -1 for the default: (M - 1) / 2 rounded down)`)
  return value
}
