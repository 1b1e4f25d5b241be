import { access } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError, UsageError } from '../../errors.js'
import { parseRate, parseSize } from '../../config/units.js'
import { defaultConfig } from '../../config/schema.js'
import { out } from '../output.js'
import { repoOf } from '../context.js'
import type { GlobalArgs } from '../context.js'
import type { RelayConfig, ReplicationConfig, ShoalConfig } from '../../config/schema.js'
import type { Argv, CommandModule } from 'yargs'

interface NetworkArgs extends GlobalArgs {
  listen?: string[]
  bootstrap?: string[]
  announce?: string[]
  mdns?: boolean
  'max-upload-rate'?: string
  'max-download-rate'?: string
  'max-storage'?: string
  'grace-period'?: number
  'check-interval'?: number
  'repair-rate'?: string
  'leave-timeout'?: number
  'swarm-key'?: string
  'group-key'?: string
  trust?: string[]
  api?: string
  'api-allow-remote'?: boolean
  bitswap?: boolean
  'ipfs-dht'?: boolean
  'ipfs-bootstrap'?: boolean
  gateway?: string
  'gateway-allow-remote'?: boolean
  'gateway-fetch'?: boolean
  metrics?: string
  'metrics-allow-remote'?: boolean
  webui?: string
  'webui-allow-remote'?: boolean
  'relay-service'?: boolean
  'relay-rate'?: string
  upnp?: boolean
  'hole-punching'?: boolean
  stun?: string[]
}

function networkOptions<T> (y: Argv<T>): Argv<T & NetworkArgs> {
  return y
    .option('listen', { type: 'string', array: true, describe: 'multiaddr to listen on (repeatable)' })
    .option('bootstrap', { type: 'string', array: true, describe: 'peer to join through, a full multiaddr with /p2p/ (repeatable)' })
    .option('announce', { type: 'string', array: true, describe: 'multiaddr to announce instead of the listen addresses (repeatable)' })
    .option('mdns', { type: 'boolean', describe: 'find peers on the local network with mDNS' })
    .option('max-upload-rate', { type: 'string', describe: 'upload limit, e.g. 10MB or 512KiB per second (0: unlimited)' })
    .option('max-download-rate', { type: 'string', describe: 'download limit, e.g. 50MB per second (0: unlimited)' })
    .option('max-storage', { type: 'string', describe: 'bytes this peer may store, e.g. 20GB; replicas beyond it are declined (0: unlimited)' })
    .option('check-interval', { type: 'number', describe: 'seconds between liveness probes of other replica holders (default 5)' })
    .option('grace-period', { type: 'number', describe: 'seconds a holder may be down before its copies are replaced, and a surplus lasts before it is trimmed (default 60)' })
    .option('repair-rate', { type: 'string', describe: 'bandwidth for downloading replicas, e.g. 8MiB per second (0: unlimited)' })
    .option('leave-timeout', { type: 'number', describe: 'seconds a graceful stop waits to hand replicas over (default 60)' })
    .option('swarm-key', { type: 'string', describe: 'private swarm: a libp2p pre-shared key file (shoal swarm-key makes one); only peers with the same key can connect' })
    .option('group-key', { type: 'string', describe: 'replication group: a key file (shoal group-key makes one); peers with the same key keep replicas for each other, and no one else can make this peer store anything' })
    .option('trust', { type: 'string', array: true, describe: 'a peer id trusted to ask this peer to keep replicas, without a group key (repeatable)' })
    .option('api', { type: 'string', describe: 'also serve the control API on TCP, e.g. /ip4/127.0.0.1/tcp/5401 (token in $REPO/api.token)' })
    .option('api-allow-remote', { type: 'boolean', describe: 'let --api bind an address other than loopback' })
    .option('bitswap', { type: 'boolean', describe: 'serve and fetch blocks over Bitswap too, for IPFS peers (default on; --no-bitswap: off)' })
    .option('ipfs-dht', { type: 'boolean', describe: 'also take part in the IPFS DHT (/ipfs/kad/1.0.0): provide roots and find providers there' })
    .option('ipfs-bootstrap', { type: 'boolean', describe: 'also join through the public IPFS bootstrap peers (needs the internet)' })
    .option('gateway', { type: 'string', describe: 'serve a read-only trustless HTTP gateway, e.g. /ip4/127.0.0.1/tcp/8080' })
    .option('gateway-allow-remote', { type: 'boolean', describe: 'let --gateway bind an address other than loopback' })
    .option('gateway-fetch', { type: 'boolean', describe: 'the gateway fetches from the swarm what is not here (default on; --no-gateway-fetch: only local content)' })
    .option('metrics', { type: 'string', describe: 'serve Prometheus metrics (/metrics) and /healthz, e.g. /ip4/127.0.0.1/tcp/9401' })
    .option('metrics-allow-remote', { type: 'boolean', describe: 'let --metrics bind an address other than loopback' })
    .option('webui', { type: 'string', describe: 'where the web page listens (default /ip4/127.0.0.1/tcp/0: loopback, the port it had last time; \'\' for none); `shoal webui` signs a browser in' })
    .option('webui-allow-remote', { type: 'boolean', describe: 'let --webui bind an address other than loopback (a phone on the LAN)' })
    .option('upnp', { type: 'boolean', describe: 'ask the router to forward our port with UPnP (default on where we listen beyond loopback; --no-upnp: never)' })
    .option('hole-punching', { type: 'boolean', describe: 'make relayed connections direct where the NATs allow it (WebRTC, UDP punched by ICE; default on where we listen beyond loopback, never in a private swarm; --no-hole-punching: never)' })
    .option('stun', { type: 'string', array: true, describe: 'a STUN server for hole punching, stun:host:port (repeatable; replaces the default public ones)' })
    .option('relay-rate', { type: 'string', describe: 'with --relay-service: bytes per second all members\' relayed connections share (e.g. 10MB; default unlimited)' })
    .option('relay-service', { type: 'boolean', describe: 'be a circuit relay: members of this peer\'s replication group reach each other through it (peers behind NAT), strangers only within libp2p\'s small default limits' }) as any
}

/**
 * Config fields given on the command line. The checks of peer ids and
 * multiaddrs load libp2p's crypto (a fifth of a second): only the commands
 * that take them pay for it.
 */
async function overrides (args: NetworkArgs): Promise<Partial<ShoalConfig>> {
  const { checkBootstrap, checkMultiaddr, peerIdList, stunList } = await import('../../config/validate.js')
  const o: Partial<ShoalConfig> = {}
  if (args.listen != null) o.listen = args.listen.map(a => checkMultiaddr(a, '--listen'))
  if (args.bootstrap != null) o.bootstrap = args.bootstrap.map(a => checkBootstrap(a, '--bootstrap'))
  if (args.announce != null) o.announce = args.announce.map(a => checkMultiaddr(a, '--announce'))
  if (args.mdns != null) o.mdns = args.mdns
  if (args['max-upload-rate'] != null) o.maxUploadRate = parseRate(args['max-upload-rate'], '--max-upload-rate')
  if (args['max-download-rate'] != null) o.maxDownloadRate = parseRate(args['max-download-rate'], '--max-download-rate')
  if (args['max-storage'] != null) o.maxStorage = parseSize(args['max-storage'], '--max-storage')
  if (args['swarm-key'] != null) o.swarmKeyFile = path.resolve(args['swarm-key'])
  if (args.api != null) o.api = checkMultiaddr(args.api, '--api')
  if (args['api-allow-remote'] != null) o.apiAllowRemote = args['api-allow-remote']
  if (args.bitswap != null) o.bitswap = args.bitswap
  if (args['ipfs-dht'] != null) o.ipfsDht = args['ipfs-dht']
  if (args['ipfs-bootstrap'] != null) o.ipfsBootstrap = args['ipfs-bootstrap']
  if (args.gateway != null) o.gateway = checkMultiaddr(args.gateway, '--gateway')
  if (args['gateway-allow-remote'] != null) o.gatewayAllowRemote = args['gateway-allow-remote']
  if (args['gateway-fetch'] != null) o.gatewayFetch = args['gateway-fetch']
  if (args.metrics != null) o.metrics = checkMultiaddr(args.metrics, '--metrics')
  if (args['metrics-allow-remote'] != null) o.metricsAllowRemote = args['metrics-allow-remote']
  if (args.webui != null) o.webui = args.webui === '' ? '' : checkMultiaddr(args.webui, '--webui')
  if (args['webui-allow-remote'] != null) o.webuiAllowRemote = args['webui-allow-remote']
  if (args.upnp != null) o.upnp = args.upnp
  if (args['hole-punching'] != null) o.holePunching = args['hole-punching']
  if (args.stun != null) o.stunServers = stunList(args.stun, '--stun')
  const relay: Partial<RelayConfig> = {}
  if (args['relay-service'] != null) relay.service = args['relay-service']
  if (args['relay-rate'] != null) relay.memberRate = parseRate(args['relay-rate'], '--relay-rate')
  if (Object.keys(relay).length > 0) o.relay = relay as RelayConfig
  const replication: Partial<ReplicationConfig> = {}
  if (args['group-key'] != null) replication.groupKeyFile = path.resolve(args['group-key'])
  if (args.trust != null) replication.trustedPeers = peerIdList(args.trust, '--trust')
  if (args['check-interval'] != null) replication.checkInterval = seconds(args['check-interval'], '--check-interval')
  if (args['grace-period'] != null) replication.gracePeriod = seconds(args['grace-period'], '--grace-period')
  if (args['leave-timeout'] != null) replication.leaveTimeout = seconds(args['leave-timeout'], '--leave-timeout')
  if (args['repair-rate'] != null) replication.repairRate = parseRate(args['repair-rate'], '--repair-rate')
  if (Object.keys(replication).length > 0) o.replication = replication as ReplicationConfig
  return o
}

function seconds (value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(`${what} must be a positive number of seconds`)
  return Math.round(value * 1000)
}

/** Read and check the key files given on the command line, as the daemon will (ConfigError: exit 2). */
async function checkKeyFiles (o: Partial<ShoalConfig>): Promise<void> {
  if (o.swarmKeyFile != null) {
    await keyFileExists(o.swarmKeyFile, '--swarm-key', 'swarm-key')
    await (await import('../../node/swarm-key.js')).readSwarmKey(o.swarmKeyFile)
  }
  if (o.replication?.groupKeyFile != null) {
    await keyFileExists(o.replication.groupKeyFile, '--group-key', 'group-key')
    await (await import('../../replication/group.js')).readGroupKey(o.replication.groupKeyFile)
  }
}

/** A missing key file, said with how to make one (every peer then gets a copy of the same file). */
async function keyFileExists (file: string, option: string, command: string): Promise<void> {
  const missing = await access(file).then(() => false, (err: any) => err.code === 'ENOENT')
  if (missing) throw new ConfigError(`${option}: ${file} does not exist (make one with: shoal ${command} > ${file}, and give every peer a copy)`)
}

export const initCommand: CommandModule<GlobalArgs, NetworkArgs> = {
  command: 'init',
  describe: 'Create a repo (config, identity, stores); the flags are written to its config',
  builder: y => networkOptions(y).example('$0 init --repo ./peer-a --listen /ip4/0.0.0.0/tcp/4401', ''),
  handler: async args => {
    const repo = repoOf(args)
    const defaults = defaultConfig()
    const o = await overrides(args)
    // a key file that is missing or not a key is refused before anything is made: no half-made repo
    await checkKeyFiles(o)
    // loaded here, not at start: the other commands need none of the daemon's modules
    const { initRepo } = await import('../../config/file.js')
    const created = await initRepo(repo, { ...defaults, ...o, replication: { ...defaults.replication, ...o.replication } })
    const { readPeerId } = await import('../../store/identity.js')
    const { repoPaths } = await import('../../store/repo-layout.js')
    const peerId = await readPeerId(repoPaths(repo).identity)
    if (args.json === true) {
      out.json({ repo, created, peerId })
    } else {
      out.line(created ? `initialised repo ${repo}` : `repo ${repo} already exists; left unchanged`)
      out.line(`peer id ${peerId}`)
    }
  }
}

interface DaemonArgs extends NetworkArgs {
  'log-level': string
  'log-format'?: string
  'ready-fd'?: number
}

export const daemonCommand: CommandModule<GlobalArgs, DaemonArgs> = {
  command: 'daemon',
  describe: 'Run a peer in the foreground: serve and fetch blocks, answer the CLI (creates the repo if needed; flags override its config for this run)',
  builder: y => networkOptions(y)
    .option('log-level', { type: 'string', default: 'info', describe: 'error, warn, info or debug' })
    .option('log-format', { type: 'string', describe: 'text (default) or json (one object per line, for log collectors; --json means the same)' })
    .option('ready-fd', { type: 'number', describe: 'once serving, write one JSON line (peerId, addresses, api) to this open file descriptor and close it, for a supervisor' })
    .example('$0 daemon --repo ./peer-b --listen /ip4/127.0.0.1/tcp/4402 --bootstrap /ip4/127.0.0.1/tcp/4401/p2p/12D3Koo…', '')
    .example('$0 daemon --group-key ~/group.key --log-format json', '') as any,
  handler: async args => {
    const repo = repoOf(args)
    const { createLog, parseLogFormat, parseLogLevel } = await import('../../daemon/log.js')
    const log = createLog({
      level: parseLogLevel(args['log-level']),
      format: args['log-format'] != null ? parseLogFormat(args['log-format']) : args.json === true ? 'json' : 'text',
      write: line => { out.note(line) }
    })
    const { startDaemon } = await import('../../daemon/daemon.js')
    const readyFd = args['ready-fd']
    if (readyFd != null && (!Number.isSafeInteger(readyFd) || readyFd < 3)) throw new UsageError(`--ready-fd must be an open file descriptor of 3 or more, got ${String(readyFd)}`)
    const config = await overrides(args)
    await checkKeyFiles(config)
    const daemon = await startDaemon({ repo, config, log, readyFd })
    await daemon.stopped
  }
}

export const groupKeyCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'group-key',
  describe: 'Print a new key for a replication group (give the same file to every peer that may keep copies, with --group-key)',
  builder: y => y.example('$0 group-key > group.key', ''),
  handler: async () => {
    const { newGroupKey } = await import('../../replication/group.js')
    out.line(newGroupKey().trimEnd())
  }
}

export const swarmKeyCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'swarm-key',
  describe: 'Print a new pre-shared key for a private swarm (give the same file to every peer with --swarm-key)',
  builder: y => y.example('$0 swarm-key > swarm.key', ''),
  handler: async () => {
    const key = new Uint8Array(95)
    const { generateKey } = await import('@libp2p/pnet')
    generateKey(key)
    out.line(new TextDecoder().decode(key).trimEnd())
  }
}
