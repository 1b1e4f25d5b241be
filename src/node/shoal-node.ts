import fs from 'node:fs/promises'
import { AbortError } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { preSharedKey } from '@libp2p/pnet'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { exporter } from 'ipfs-unixfs-exporter'
import { blockKey, childLinks, isInterior } from '../content/dag.js'
import { readFileContent } from '../content/file-reader.js'
import { BlockNotFoundError, BlockVerificationError, ConfigError, DiskFullError, InputError, isDiskFull, NotAFileError, NotFoundError, ReplicationError } from '../errors.js'
import { BanList } from '../exchange/ban-list.js'
import { PeerConduct } from '../exchange/peer-conduct.js'
import { Exchange } from '../exchange/exchange.js'
import { TokenBucket } from '../exchange/token-bucket.js'
import { REPLICA_PROTOCOL } from '../protocol/constants.js'
import { ReplicationGroup, readGroupKey } from '../replication/group.js'
import { NO_GROUP, ReplicaManager } from '../replication/replica-manager.js'
import { Announcer } from '../routing/announcer.js'
import { Bootstrapper } from '../routing/bootstrapper.js'
import { DhtDiscovery } from '../routing/dht-discovery.js'
import { RoutingTableSweeper } from '../routing/routing-table-sweeper.js'
import { Repo } from '../store/repo.js'
import { createShoalLibp2p } from './create-libp2p.js'
import { exportPath, resolveOutput } from './export-path.js'
import { BlockArrivals } from './block-arrivals.js'
import { GcLock } from './gc-lock.js'
import { importPath } from './import-path.js'
import { anySignal } from '../signals.js'
import type { ShoalLibp2p } from './create-libp2p.js'
import type { ImportOptions, ImportResult } from './import-path.js'
import type { BlockNetwork } from '../protocol/block-network.js'
import type { FetchProgress, FetchResult } from '../exchange/session-types.js'
import type { ContentDiscovery } from '../routing/content-discovery.js'
import type { ShoalConfig } from '../store/config.js'
import type { HandOverResult } from '../replication/hand-over.js'
import type { ReplicaStatus } from '../replication/replica-manager.js'
import type { Pin, PinReason } from '../store/pin-store.js'
import type { AbortOptions, ComponentLogger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface ShoalNodeOptions {
  /** Replace parts of the repo's config for this run (command-line flags). */
  config?: Partial<ShoalConfig>
  /** DHT bucket size (tests use small ones to exercise routing). */
  kBucketSize?: number
  logger?: ComponentLogger
}

export interface GetOptions {
  pin?: boolean
  force?: boolean
  signal?: AbortSignal
  providerTimeout?: number
  onProgress?(progress: FetchProgress): void
  /** No holder found yet: still searching, for at most `timeout` ms. */
  onSearching?(timeout: number): void
  /** Every block is on disk and verified; the output is being written to `target`. */
  onWriting?(target: string): void
}

export interface GetResult extends FetchResult {
  size: number
  type: 'file' | 'directory'
  output: string
  pinned: boolean
}

export interface RepoStat {
  repo: string
  blocks: number
  bytes: number
  pins: number
  peers: number
  bytesSent: number
  bytesReceived: number
  activeDownloads: number
  activeUploads: number
  /** Peers banned for sending blocks that failed verification. */
  banned: Array<{ peer: string, until: number, reason: string }>
  /** Roots held as replicas, and replica downloads running. */
  replicas: number
  activeRepairs: number
}

export interface AddOptions extends ImportOptions {
  pin?: boolean
  /** Keep this many copies in the swarm (K); 1 keeps only this peer's. */
  replicas?: number
  /** Copies above this are trimmed (default: replicas). */
  replicasMax?: number
}

/**
 * Below this many peers known locally (connected, or in the peer store with
 * the replica protocol), placement also asks the DHT for the root's closest
 * peers; a query costs seconds when some of them are gone, and repairs wait.
 */
const LOCAL_CANDIDATES = 8
const CANDIDATE_QUERY_TIMEOUT = 5_000
/** One dial of a bootstrap peer; while none answered and no peer is connected, retries start after BOOTSTRAP_RETRY and double up to BOOTSTRAP_MAX_RETRY (ms). */
const BOOTSTRAP_DIAL_TIMEOUT = 10_000
const BOOTSTRAP_RETRY = 5_000
const BOOTSTRAP_MAX_RETRY = 300_000

export interface RootStatus {
  cid: string
  /** Why this peer keeps it (its pin's reasons); empty when it keeps nothing of it. */
  here: PinReason[]
  name?: string
  size: number
  /** Its copies in the swarm, when it is replicated. */
  replication?: ReplicaStatus
}

export interface PeerSummary {
  peerId: string
  addresses: string[]
}

/** The pre-shared key of a private swarm, checked; undefined for an open swarm. */
async function readSwarmKey (file: string): Promise<Uint8Array | undefined> {
  if (file === '') return undefined
  let key: Uint8Array
  try {
    key = await fs.readFile(file)
  } catch (err: any) {
    throw new ConfigError(`cannot read the swarm key ${file}: ${err.code ?? err.message}`)
  }
  try {
    // the protector parses the key when it is built: build one to check it
    preSharedKey({ psk: key })()
  } catch (err: any) {
    throw new ConfigError(`${file} is not a libp2p swarm key (make one with: shoal swarm-key > swarm.key): ${err.message}`)
  }
  return key
}

async function toBytes (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const first = await chunks[Symbol.asyncIterator]().next()
  if (first.done === true) throw new BlockNotFoundError('the block store gave an empty block')
  return first.value
}

/**
 * One Shoal peer: its repo, its libp2p node, the block exchange and the
 * announcer, started and stopped together. Every user operation (add, get,
 * ls, gc…) is a method here; the daemon exposes them over the control API.
 */
export class ShoalNode {
  readonly repo: Repo
  readonly libp2p: ShoalLibp2p
  readonly exchange: Exchange
  readonly network: BlockNetwork
  readonly announcer: Announcer
  readonly discovery: ContentDiscovery
  readonly bans: BanList
  readonly replicas: ReplicaManager
  /** Dials the bootstrap peers and says how each went. */
  readonly bootstrapper: Bootstrapper
  private readonly sweeper: RoutingTableSweeper
  private readonly repairBucket: TokenBucket
  private readonly inUse = new Map<string, { cid: CID, users: number }>()
  private readonly gcLock = new GcLock()
  private started = false
  /** The node's logger: its parts log through it, and so may the daemon around it. */
  readonly logger: ComponentLogger

  private constructor (repo: Repo, libp2p: ShoalLibp2p, logger: ComponentLogger, bans: BanList, uploadBucket: TokenBucket, group: ReplicationGroup) {
    this.repo = repo
    this.logger = logger
    this.libp2p = libp2p
    this.bans = bans
    this.network = libp2p.services.blocks
    this.discovery = new DhtDiscovery({ contentRouting: libp2p.contentRouting, peerStore: libp2p.peerStore })
    this.exchange = new Exchange({
      network: this.network,
      swarmNetwork: libp2p.services.swarm,
      blocks: repo.blocks,
      discovery: this.discovery,
      peerStore: libp2p.peerStore,
      bans,
      uploadBucket,
      logger,
      peerId: libp2p.peerId,
      connectedPeers: () => libp2p.getPeers(),
      events: libp2p,
      holdsComplete: async root => await repo.pins.isComplete(root)
    }, repo.config.limits)
    this.announcer = new Announcer({ discovery: this.discovery, logger })
    this.sweeper = new RoutingTableSweeper({
      logger,
      events: libp2p,
      isConnected: peer => libp2p.getConnections(peer).length > 0,
      ping: async (peer, options) => await libp2p.services.ping.ping(peer, options),
      // kad-dht has no public way to drop a contact; its routing table does
      remove: async peer => { await (libp2p.services.dht as unknown as { routingTable?: { remove?(p: PeerId): Promise<void> } }).routingTable?.remove?.(peer) }
    }, { delay: repo.config.replication.gracePeriod, timeout: repo.config.replication.probeTimeout })
    this.bootstrapper = new Bootstrapper({
      peerStore: libp2p.peerStore,
      dial: async (address, options) => await libp2p.dial(address, options),
      connections: () => libp2p.getConnections().length
    }, { list: repo.config.bootstrap, dialTimeout: BOOTSTRAP_DIAL_TIMEOUT, retry: BOOTSTRAP_RETRY, maxRetry: BOOTSTRAP_MAX_RETRY })
    this.repairBucket = new TokenBucket(repo.config.replication.repairRate)
    this.replicas = new ReplicaManager({
      peerId: libp2p.peerId,
      network: libp2p.services.replicas,
      store: repo.replicas,
      logger,
      group,
      candidates: async (root, options) => await this.replicaCandidates(root, options),
      providers: async (root, options) => {
        // what was found before the lookup was cut short counts
        const found: PeerId[] = []
        try {
          for await (const p of this.discovery.findProviders(root, options)) found.push(p.id)
        } catch (err) {
          if (found.length === 0) throw err
        }
        return found
      },
      addressesOf: async peer => {
        const connected = libp2p.getConnections(peer).map(c => c.remoteAddr.toString())
        if (connected.length > 0) return connected
        return (await libp2p.peerStore.get(peer).catch(() => undefined))?.addresses.map(a => a.multiaddr.toString()) ?? []
      },
      isComplete: async root => await repo.pins.isComplete(root),
      keepReplica: async root => { await this.keepReplica(root) },
      fetchReplica: async (root, options) => { await this.fetchReplica(root, options) },
      releaseReplica: async root => {
        // the user's pin, if any, keeps the root here
        await repo.pins.unpin(root, ['replica', 'download'])
        if (!(await repo.pins.isPinned(root))) this.announcer.withdraw(root)
      },
      usedStorage: async () => (await repo.blocks.stats()).bytes,
      diskSpace: async () => {
        const s = await fs.statfs(repo.paths.blocks)
        return { free: s.bavail * s.bsize, total: s.blocks * s.bsize }
      }
    }, { ...repo.config.replication, maxStorage: repo.config.maxStorage })
    // a banned peer is cut off at once, not only refused next time
    bans.addEventListener('ban', evt => {
      const peer = libp2p.getPeers().find(p => p.toString() === evt.detail.peer)
      if (peer != null) void libp2p.hangUp(peer).catch(() => {})
    })
  }

  /** Open the repo at `root` and build (but not start) the node. */
  static async open (root: string, options: ShoalNodeOptions = {}): Promise<ShoalNode> {
    const repo = new Repo(root)
    await repo.open()
    try {
      repo.config = {
        ...repo.config,
        ...options.config,
        limits: { ...repo.config.limits, ...options.config?.limits },
        replication: { ...repo.config.replication, ...options.config?.replication }
      }
      const logger = options.logger ?? defaultLogger()
      const bans = new BanList()
      const conduct = new PeerConduct(bans, { maxViolations: repo.config.limits.maxViolations, banTime: repo.config.limits.banTime, logger })
      const downloadBucket = new TokenBucket(repo.config.maxDownloadRate)
      const uploadBucket = new TokenBucket(repo.config.maxUploadRate)
      const libp2p = await createShoalLibp2p({
        swarmKey: await readSwarmKey(repo.config.swarmKeyFile),
        privateKey: repo.privateKey,
        datastore: repo.datastore,
        config: repo.config,
        kBucketSize: options.kBucketSize,
        logger,
        isBanned: peer => bans.isBanned(peer),
        onViolation: (peer, err) => { conduct.violation(peer, err.message) },
        downloadThrottle: downloadBucket.unlimited ? undefined : async bytes => { await downloadBucket.take(bytes) }
      })
      const { groupKeyFile, trustedPeers } = repo.config.replication
      const group = new ReplicationGroup({ key: groupKeyFile === '' ? undefined : await readGroupKey(groupKeyFile), trustedPeers })
      return new ShoalNode(repo, libp2p, logger, bans, uploadBucket, group)
    } catch (err) {
      await repo.close()
      throw err
    }
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  /** Full multiaddrs (with /p2p/) other peers can use to reach this one. */
  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  async start (): Promise<void> {
    await this.libp2p.start()
    this.bootstrapper.start()
    this.exchange.start()
    this.announcer.start()
    await this.replicas.start()
    this.sweeper.start()
    this.started = true
    // after a restart our provider records may have expired elsewhere
    for await (const pin of this.repo.pins.pins()) {
      this.announcer.announce(pin.cid)
    }
  }

  async stop (): Promise<void> {
    if (this.started) {
      this.started = false
      this.sweeper.stop()
      this.bootstrapper.stop()
      await this.replicas.stop()
      this.announcer.stop()
      this.exchange.stop()
      await this.libp2p.stop()
    }
    await this.repo.close()
  }

  /**
   * Graceful leave: hand the replicas we hold over to other peers (bounded
   * by the configured leave timeout), then tell their holders we go.
   */
  async leave (options: AbortOptions = {}): Promise<HandOverResult> {
    if (!this.started) return { handedOver: 0, unfinished: 0, short: [] }
    return await this.replicas.leave(options)
  }

  /**
   * Import a file or directory, pin it and announce it; with `replicas` > 1,
   * also place that many copies on the peers closest to the root.
   */
  async add (input: string, options: AddOptions = {}): Promise<ImportResult & { pinned: boolean, replication?: ReplicaStatus }> {
    const replicas = options.replicas ?? this.repo.config.replication.replicas
    const replicasMax = options.replicasMax ?? replicas
    if (replicas > 1 && !this.replicas.inGroup) throw new ReplicationError(NO_GROUP)
    if (replicasMax < replicas) {
      throw new ReplicationError(`--replicas-max (${replicasMax}) must be at least --replicas (${replicas})`)
    }
    const pinned = options.pin !== false
    // a gc must not run between storing the blocks and pinning them
    const result = await this.gcLock.writing(async () => {
      const imported = await importPath(this.repo.blocks, input, {
        chunkSize: this.repo.config.chunkSize,
        ...options
      })
      const info = { cid: imported.cid, name: imported.name, size: imported.size, type: imported.type, created: Date.now() }
      if (pinned) await this.repo.pins.pin(info, 'user')
      // with --no-pin a replicated root is kept only as a replica: trimmed like any other copy
      if (replicas > 1) await this.repo.pins.pin(info, 'replica')
      return imported
    }).catch(err => { throw this.repoFull(err, 'nothing was added; the blocks stored so far go at the next gc') })
    this.announcer.announce(result.cid)
    if (replicas > 1) {
      const replication = await this.replicas.replicate(result.cid, { min: replicas, max: replicasMax, size: result.size }, options)
      return { ...result, pinned, replication }
    }
    return { ...result, pinned }
  }

  /**
   * Keep K copies (at most M) of a root this peer holds whole, added or
   * fetched: placed as `add --replicas` places them, or, for a root already
   * replicated, the new counts replace the old ones on every holder.
   */
  async replicate (cid: CID, options: { replicas: number, replicasMax?: number } & AbortOptions): Promise<ReplicaStatus> {
    const pin = await this.repo.pins.get(cid)
    if (pin == null || !(await this.repo.pins.isComplete(cid))) {
      throw new InputError(`${cid.toString()} is not all here: fetch it first (shoal get ${cid.toString()})`)
    }
    const max = options.replicasMax ?? options.replicas
    if (max < options.replicas) throw new ReplicationError(`--replicas-max (${max}) must be at least --replicas (${options.replicas})`)
    return await this.replicas.replicate(cid, { min: options.replicas, max, size: pin.size }, options)
  }

  /**
   * A root as this peer keeps it (its pin's reasons) and, if it is
   * replicated, where its copies are: from our own view when we are a
   * holder, else from what its holders say. NotFoundError when this peer
   * keeps nothing of it and no holder answered.
   */
  async status (cid: CID, options: AbortOptions = {}): Promise<RootStatus> {
    const pin = await this.repo.pins.get(cid)
    const replication = await this.replicas.status(cid, options)
    if (replication == null && pin == null) {
      throw new NotFoundError(`this peer keeps nothing of ${cid.toString()}, and no holder of a replica of it answered`)
    }
    return { cid: cid.toString(), here: pin?.reasons ?? [], name: pin?.name, size: replication?.size ?? pin?.size ?? 0, replication }
  }

  /** Peers that might take a replica of `root` (the replica manager orders them by distance). */
  private async replicaCandidates (root: CID, options: AbortOptions & { thorough?: boolean }): Promise<PeerId[]> {
    const found = new Map<string, PeerId>()
    for (const peer of this.libp2p.getPeers()) found.set(peer.toString(), peer)
    for (const peer of await this.libp2p.peerStore.all({ filters: [p => p.protocols.includes(REPLICA_PROTOCOL)] })) {
      found.set(peer.id.toString(), peer.id)
    }
    if (options.thorough === true || found.size < LOCAL_CANDIDATES) {
      const signal = anySignal(AbortSignal.timeout(CANDIDATE_QUERY_TIMEOUT), options.signal)
      try {
        for await (const peer of this.libp2p.peerRouting.getClosestPeers(root.multihash.bytes, { signal })) {
          found.set(peer.id.toString(), peer.id)
        }
      } catch {
        // a slow or failed query leaves the peers we already know
      }
    }
    found.delete(this.peerId.toString())
    for (const banned of this.bans.list()) found.delete(banned.peer)
    return [...found.values()]
  }

  /** Download a replica we accepted (at the repair rate), pin it and announce it. */
  private async fetchReplica (root: CID, options: AbortOptions & { onProgress?(bytes: number): void }): Promise<void> {
    const done = await this.use(root)
    try {
      await this.fetchReplicaInUse(root, options)
    } finally {
      done()
    }
  }

  private async fetchReplicaInUse (root: CID, options: AbortOptions & { onProgress?(bytes: number): void }): Promise<void> {
    await this.fetch(root, { signal: options.signal, rateLimit: this.repairBucket, onProgress: p => { options.onProgress?.(p.bytesDone) } })
    await this.keepReplica(root, options)
    await this.repo.pins.clearDownloading(root)
    this.announcer.announce(root)
  }

  /** Pin a root that is all here as a replica (named after its CID unless the user named it). */
  private async keepReplica (root: CID, options: AbortOptions = {}): Promise<void> {
    const entry = await exporter(root, this.repo.blocks.exporterStore(), { signal: options.signal })
    const type = entry.type === 'directory' ? 'directory' : 'file'
    const size = entry.type === 'directory' ? 0 : Number(entry.size)
    await this.repo.pins.pin({ cid: root, name: root.toString(), size, type, created: Date.now() }, 'replica')
  }

  /**
   * Fetch the DAG under `cid` from the swarm (resuming what the store already
   * has), then write it to `output` (into it, as `output/CID`, when it is a
   * directory). Pins it unless `pin` is false and announces it, so this peer
   * serves it too.
   */
  async get (cid: CID, output: string, options: GetOptions = {}): Promise<GetResult> {
    const target = await resolveOutput(output, cid, options)
    const done = await this.use(cid)
    try {
      return await this.fetchAndExport(cid, target, options)
    } finally {
      done()
    }
  }

  private async fetchAndExport (cid: CID, output: string, options: GetOptions): Promise<GetResult> {
    let fetched = await this.fetch(cid, options).catch(err => {
      throw this.repoFull(err, 'the blocks fetched so far are kept: run the get again to resume')
    })
    options.onWriting?.(output)
    let exported
    try {
      exported = await exportPath(this.repo.blocks, cid, output, { force: options.force, signal: options.signal })
    } catch (err) {
      if (isDiskFull(err)) throw new DiskFullError(`no space left to write ${output}; nothing was written under that name`)
      if (!(err instanceof BlockVerificationError)) throw err
      // a block rotted on disk since it was stored; the store dropped it, so fetch it again
      const again = await this.fetch(cid, options)
      fetched = { ...again, blocksAlreadyHeld: again.blocksAlreadyHeld, seconds: fetched.seconds + again.seconds }
      exported = await exportPath(this.repo.blocks, cid, output, { force: options.force, signal: options.signal })
    }
    const pinned = await this.keep(cid, output, exported, options.pin !== false)
    return { ...fetched, ...exported, output, pinned }
  }

  /**
   * Stream a file's bytes while it downloads: the session fetches in file
   * order and the exporter reads each block as soon as it is verified and
   * stored. Nothing is pinned.
   */
  async * cat (cid: CID, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    const controller = new AbortController()
    const signal = anySignal(controller.signal, options.signal)
    const done = await this.use(cid)
    const arrivals = new BlockArrivals(this.repo.blocks, signal)
    const fetching = this.fetch(cid, { ...options, signal, sequential: true, onStored: c => { arrivals.stored(c) } })
    fetching.then(() => { arrivals.complete() }, err => { arrivals.fail(err) })
    try {
      const entry = await exporter(cid, arrivals, { signal })
      if (entry.type !== 'file' && entry.type !== 'raw' && entry.type !== 'identity') {
        throw new NotAFileError(`${cid.toString()} is a ${entry.type}, not a file (use get)`)
      }
      yield * readFileContent(cid, async c => await toBytes(arrivals.get(c, { signal })), { signal })
      await fetching
    } finally {
      controller.abort(new AbortError('cat finished'))
      await fetching.catch(() => {})
      await this.repo.pins.clearDownloading(cid)
      done()
    }
  }

  private async fetch (cid: CID, options: GetOptions & { sequential?: boolean, onStored?(cid: CID): void, rateLimit?: TokenBucket }): Promise<FetchResult> {
    await this.repo.pins.markDownloading(cid)
    return await this.exchange.fetch(cid, {
      ...options,
      // serve what we have as soon as we have some of it
      onServable: () => { this.announcer.announce(cid) }
    })
  }

  /** A write to the repo that failed for lack of space, as a DiskFullError saying what became of it. */
  private repoFull (err: unknown, outcome: string): unknown {
    if (!isDiskFull(err)) return err
    return new DiskFullError(`the repo's disk is full (${this.repo.root}): ${outcome}; free space or run \`shoal gc\``)
  }

  /**
   * Mark a root in use until the returned function is called: gc keeps its
   * blocks even when another operation on the same root has finished and
   * cleared its download marker.
   */
  private async use (cid: CID): Promise<() => void> {
    // a gc that is running decided what to keep without this root
    await this.gcLock.idle()
    const key = cid.toString()
    const entry = this.inUse.get(key) ?? { cid, users: 0 }
    entry.users++
    this.inUse.set(key, entry)
    let released = false
    return () => {
      if (released) return
      released = true
      if (--entry.users === 0) this.inUse.delete(key)
    }
  }

  private async keep (cid: CID, output: string, exported: { type: 'file' | 'directory', size: number }, pin: boolean): Promise<boolean> {
    if (pin) {
      await this.repo.pins.pin({ cid, name: output.split('/').pop() ?? cid.toString(), size: exported.size, type: exported.type, created: Date.now() }, 'user')
    }
    await this.repo.pins.clearDownloading(cid)
    this.announcer.announce(cid)
    return pin
  }

  async ls (): Promise<Pin[]> {
    const pins: Pin[] = []
    for await (const pin of this.repo.pins.pins()) pins.push(pin)
    return pins.sort((a, b) => a.created - b.created)
  }

  /**
   * Unpin a root for every reason it was kept (the user's pin, a replica: the
   * other holders see it go and repair, an unfinished download: given up);
   * its blocks go at the next gc. Returns the reasons it was kept for.
   */
  async rm (cid: CID): Promise<PinReason[]> {
    const wasReplica = await this.replicas.drop(cid)
    let removed: PinReason[]
    try {
      removed = await this.repo.pins.unpin(cid)
    } catch (err) {
      if (!isDiskFull(err)) throw err
      // a full disk leaves no room even to record that the pin is gone: delete its
      // blocks first (nothing else refers to them), then forget it
      await this.gcLock.collect(async () => await this.collectGarbage({}, cid))
      removed = await this.repo.pins.unpin(cid)
      await this.repo.flushDatastore()
    }
    if (wasReplica && !removed.includes('replica')) removed.push('replica')
    if (removed.length === 0) {
      throw new InputError(`${cid.toString()} is not pinned`)
    }
    this.announcer.withdraw(cid)
    return removed
  }

  /**
   * Delete every block not reachable from a pin or from a download in
   * progress. Returns what was removed.
   */
  async gc (options: AbortOptions = {}): Promise<{ blocks: number, bytes: number }> {
    return await this.gcLock.collect(async () => await this.collectGarbage(options))
  }

  /** `givingUp`: a root whose blocks go too, though its pin could not be removed yet (full disk). */
  private async collectGarbage (options: AbortOptions, givingUp?: CID): Promise<{ blocks: number, bytes: number }> {
    // the store records what downloads write from here on and spares it
    return await this.repo.blocks.sweep(async () => {
      const roots: CID[] = []
      // every pin, whatever its reasons: downloads in progress keep their partial blocks
      for await (const pin of this.repo.pins.pins(options)) {
        if (givingUp == null || !pin.cid.equals(givingUp)) roots.push(pin.cid)
      }
      for (const { cid } of this.inUse.values()) roots.push(cid)
      const keep = await this.reachable(roots, options)
      // stop announcing roots that are going (fetched with --no-pin, or unpinned), and leave their swarms
      const kept = (root: CID): boolean => roots.some(r => r.equals(root))
      for (const root of this.announcer.roots()) {
        if (!kept(root)) this.announcer.withdraw(root)
      }
      this.exchange.swarms.retireUnless(kept)
      return key => keep.has(key)
    }, options)
  }

  /** The keys of every stored block reachable from `roots`. */
  private async reachable (roots: CID[], options: AbortOptions): Promise<Set<string>> {
    const keep = new Set<string>()
    const stack = [...roots]
    while (stack.length > 0) {
      const cid = stack.pop()!
      const key = blockKey(cid)
      if (keep.has(key)) continue
      keep.add(key)
      if (isInterior(cid)) {
        try {
          const block = await this.repo.blocks.get(cid, options)
          stack.push(...childLinks(cid, block.bytes))
        } catch {
          // missing interior node (partial download): nothing below it is known
        }
      }
    }
    return keep
  }

  async stat (): Promise<RepoStat> {
    const store = await this.repo.blocks.stats()
    let pins = 0
    for await (const _ of this.repo.pins.pins()) pins++
    const total = this.exchange.ledger.total
    return {
      repo: this.repo.root,
      blocks: store.blocks,
      bytes: store.bytes,
      pins,
      peers: this.libp2p.getPeers().length,
      bytesSent: total.bytesSent,
      bytesReceived: total.bytesReceived,
      activeDownloads: this.exchange.activeDownloads,
      activeUploads: this.exchange.activeUploads,
      banned: this.bans.list(),
      replicas: this.replicas.list().filter(r => r.local).length,
      activeRepairs: this.replicas.activeRepairs
    }
  }

  peers (): PeerSummary[] {
    const byPeer = new Map<string, string[]>()
    for (const conn of this.libp2p.getConnections()) {
      const key = conn.remotePeer.toString()
      const list = byPeer.get(key) ?? []
      list.push(conn.remoteAddr.toString())
      byPeer.set(key, list)
    }
    return [...byPeer.entries()].map(([peerId, addresses]) => ({ peerId, addresses }))
  }

  /** Dial a peer by full multiaddr (with /p2p/). */
  async connect (address: string, options: AbortOptions = {}): Promise<string> {
    let ma
    try {
      ma = multiaddr(address)
    } catch {
      throw new InputError(`not a valid multiaddr: ${JSON.stringify(address)}`)
    }
    const peer = ma.getComponents().find(c => c.name === 'p2p')?.value
    if (peer == null) {
      throw new InputError(`multiaddr has no /p2p/<peer id>: ${address}`)
    }
    peerIdFromString(peer)
    const conn = await this.libp2p.dial(ma, options)
    return conn.remotePeer.toString()
  }

  /** Peers the DHT names as holders of `cid`, found within `timeout` ms. */
  async providers (cid: CID, timeout: number, options: AbortOptions = {}): Promise<PeerSummary[]> {
    const found = new Map<string, PeerSummary>()
    const signal = anySignal(AbortSignal.timeout(timeout), options.signal)
    try {
      for await (const p of this.discovery.findProviders(cid, { signal })) {
        found.set(p.id.toString(), { peerId: p.id.toString(), addresses: p.multiaddrs.map(m => m.toString()) })
      }
    } catch (err) {
      if (!signal.aborted || options.signal?.aborted === true) throw err
    }
    return [...found.values()]
  }
}
