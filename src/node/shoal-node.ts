import { defaultLogger } from '@libp2p/logger'
import { BanList } from '../exchange/ban-list.js'
import { PeerConduct } from '../exchange/peer-conduct.js'
import { Exchange } from '../exchange/exchange.js'
import { TokenBucket } from '../exchange/token-bucket.js'
import { ReplicationGroup, readGroupKey } from '../replication/group.js'
import { NO_GROUP, ReplicaManager } from '../replication/replica-manager.js'
import { Announcer } from '../routing/announcer.js'
import { Bootstrapper } from '../routing/bootstrapper.js'
import { DhtDiscovery } from '../routing/dht-discovery.js'
import type { DiscoveryEvents } from '../routing/dht-discovery.js'
import { ProtocolViolationError } from '../errors.js'
import { RoutingTableSweeper } from '../routing/routing-table-sweeper.js'
import { readConfig } from '../config/file.js'
import { partInits, withOverrides } from '../config/inits.js'
import type { PartInits } from '../config/inits.js'
import { Repo } from '../store/repo.js'
import { StorageAccountant } from '../store/storage.js'
import { STORAGE_COLLECT_INTERVAL } from './constants.js'
import { createShoalLibp2p, dhtRoutingTable } from './create-libp2p.js'
import { Adds } from './adds.js'
import { Downloads } from './downloads.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { Erasure } from './erasure.js'
import type { ErasureScheme } from '../content/erasure.js'
import { Fetcher } from './fetcher.js'
import { GarbageCollector } from './gc.js'
import { GcLock } from './gc-lock.js'
import { Leases } from './leases.js'
import { Reads } from './reads.js'
import { PeerOps } from './peer-ops.js'
import { Pinning } from './pinning.js'
import { ReplicaHost } from './replica-host.js'
import { readSwarmKey } from './swarm-key.js'
import { References } from './references.js'
import type { ShoalLibp2p } from './create-libp2p.js'
import type { PeerSummary, RepoStat, TransfersView } from './peer-ops.js'
import type { RootStatus } from './replica-host.js'
import type { VerifyResult } from './references.js'
import type { RefState } from '../store/refs/ref-store.js'
import type { CarImportResult } from './car-import.js'
import type { AddOptions } from './adds.js'
import type { GetResult, UnfinishedGet } from './downloads.js'
import type { Removed } from './pinning.js'
import type { DagScope, DirectoryEntry, GetOptions, ReadOptions } from './reads.js'
import type { ResolvedPath } from './paths.js'
import type { ImportResult } from './import-path.js'
import type { ContentDiscovery } from '../routing/content-discovery.js'
import type { ShoalConfig } from '../config/schema.js'
import type { HandOverResult } from '../replication/hand-over.js'
import type { ReplicaEvents } from '../replication/events.js'
import type { ReplicaStatus } from '../replication/status-view.js'
import type { Pin } from '../store/pin-store.js'
import type { AbortOptions, ComponentLogger, PeerId } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'
import type { CID } from 'multiformats/cid'
import type { Registry } from 'prom-client'

export type { HandOverResult }

export interface ShoalNodeOptions {
  /** Replace parts of the repo's config for this run (command-line flags). */
  config?: Partial<ShoalConfig>
  /** DHT bucket size (tests use small ones to exercise routing). */
  kBucketSize?: number
  logger?: ComponentLogger
}

/** The parts `open` makes before the node itself: what libp2p's options need. */
interface OpenedParts {
  bans: BanList
  conduct: PeerConduct
  uploadBucket: TokenBucket
  group: ReplicationGroup
  metricsRegistry?: Registry
}

/**
 * One Shoal peer, as a composition root: it opens the repo, builds the
 * libp2p node and every part (exchange, routing, replication, gc, pinning,
 * the downloads), wires each part's dependencies in, and starts and stops
 * them in order. The user's operations live in the parts (`Adds`,
 * `Downloads`, `Reads`, `Pinning`, `GarbageCollector`, `ReplicaHost`,
 * `PeerOps`); the methods here are their one front door, which the
 * daemon's API calls.
 */
export class ShoalNode {
  readonly repo: Repo
  /** The repo's config with this run's overrides. */
  readonly config: ShoalConfig
  readonly libp2p: ShoalLibp2p
  readonly exchange: Exchange
  readonly announcer: Announcer
  readonly discovery: ContentDiscovery
  readonly bans: BanList
  /** Peers' breaches of the wire protocol, counted (and banned past a limit). */
  readonly conduct: PeerConduct
  /** Where libp2p's metrics are collected, when the config asks for metrics. */
  readonly metricsRegistry?: Registry
  /** Every DHT provide and lookup, timed. */
  readonly routingEvents: TypedEventTarget<DiscoveryEvents>
  readonly replicas: ReplicaManager
  /** Dials the bootstrap peers and says how each went. */
  readonly bootstrapper: Bootstrapper
  /** The node's logger: its parts log through it, and so may the daemon around it. */
  readonly logger: ComponentLogger
  private readonly sweeper: RoutingTableSweeper
  private readonly gcs: GarbageCollector
  /** What running operations keep from gc. */
  readonly leases: Leases
  /** What this peer stores, part by part. */
  readonly storage: StorageAccountant
  /** A gc started because reads took the repo past its limit, and when the last one did. */
  private collecting?: Promise<unknown>
  private lastCollected = 0
  private readonly pinning: Pinning
  private readonly adds: Adds
  private readonly downloads: Downloads
  private readonly reads: Reads
  private readonly replicaHost: ReplicaHost
  /** Codes roots and fetches or rebuilds their fragments. */
  readonly erasure: Erasure
  private readonly peerOps: PeerOps
  /** Leaves held by reference: watched, withdrawn when their file changes, verified on demand. */
  private readonly references: References
  private started = false

  private constructor (repo: Repo, config: ShoalConfig, inits: PartInits, libp2p: ShoalLibp2p, logger: ComponentLogger, parts: OpenedParts) {
    const { bans, conduct, uploadBucket, group } = parts
    this.metricsRegistry = parts.metricsRegistry
    this.repo = repo
    this.config = config
    this.logger = logger
    this.libp2p = libp2p
    this.bans = bans
    this.conduct = conduct
    const discovery = new DhtDiscovery({ dht: libp2p.services.dht, ipfsDht: libp2p.services.ipfsDht, peerStore: libp2p.peerStore, log: logger.forComponent('shoal:discovery') })
    this.discovery = discovery
    this.routingEvents = discovery
    this.exchange = new Exchange({
      network: libp2p.services.blocks,
      bitswap: libp2p.services.bitswap,
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
      holdsComplete: async root => this.references.servable(root) && await repo.pins.isComplete(root),
      holdsPart: async root => await this.erasure.partOf(root)
    }, inits.exchange)
    this.announcer = new Announcer({ discovery: this.discovery, logger, store: repo.provided })
    this.references = new References({ refs: repo.refs, blocks: repo.blocks, pins: repo.pins, announcer: this.announcer, swarms: this.exchange.swarms, logger, isKept: async root => await this.gcs.isKept(root) })
    this.sweeper = new RoutingTableSweeper({
      logger,
      events: libp2p,
      isConnected: peer => libp2p.getConnections(peer).length > 0,
      ping: async (peer, options) => await libp2p.services.ping.ping(peer, options),
      // kad-dht has no public way to drop a contact; its routing table does
      remove: async peer => { await dhtRoutingTable(libp2p)?.remove?.(peer) }
    }, inits.sweeper)
    this.bootstrapper = new Bootstrapper({
      peerStore: libp2p.peerStore,
      dial: async (address, options) => await libp2p.dial(address, options),
      connections: () => libp2p.getConnections().length
    }, inits.bootstrap)
    const gcLock = new GcLock()
    this.leases = new Leases(gcLock)
    this.storage = new StorageAccountant(repo.blocks, repo.refs, inits.storage)
    this.gcs = new GarbageCollector({
      blocks: repo.blocks,
      pins: repo.pins,
      gets: repo.gets,
      replicas: repo.replicas,
      refs: repo.refs,
      leases: this.leases,
      lock: gcLock,
      announcer: this.announcer,
      swarms: this.exchange.swarms,
      storage: this.storage,
      log: logger.forComponent('shoal:gc')
    })
    this.pinning = new Pinning({
      blocks: repo.blocks,
      pins: repo.pins,
      refs: repo.refs,
      announcer: this.announcer,
      gc: this.gcs,
      dropReplica: async root => await this.replicas.drop(root),
      giveUpGets: async root => await this.downloads.giveUp(root),
      rootState: root => this.references.rootState(root),
      flushDatastore: async () => { await repo.flushDatastore() },
      reserve: { release: async () => await repo.releaseReserve(), keep: async () => { await repo.keepReserve() } }
    })
    this.replicaHost = new ReplicaHost({
      libp2p,
      repo,
      discovery: this.discovery,
      bans,
      pinning: this.pinning,
      storage: this.storage,
      downloads: () => this.downloads,
      replicas: () => this.replicas,
      erasure: () => this.erasure
    })
    this.replicas = new ReplicaManager({
      peerId: libp2p.peerId,
      network: libp2p.services.replicas,
      store: repo.replicas,
      logger,
      group,
      ...this.replicaHost.managerComponents()
    }, inits.replication)
    const erasure = new Erasure({
      blocks: repo.blocks,
      exchange: this.exchange,
      leases: this.leases,
      lock: gcLock,
      announcer: this.announcer,
      status: async (root, options) => await this.replicas.status(root, options),
      isBanned: peer => bans.isBanned(peer),
      replicaRecord: async root => await repo.replicas.get(root),
      dial: async (peer, options) => { if (peer !== libp2p.peerId.toString()) await libp2p.dial(peerIdFromString(peer), options) },
      log: logger.forComponent('shoal:erasure')
    })
    this.erasure = erasure
    const fetcher = new Fetcher({ blocks: repo.blocks, refs: repo.refs, exchange: this.exchange, announcer: this.announcer, erasure, log: logger.forComponent('shoal:fetcher') })
    this.reads = new Reads({ blocks: repo.blocks, exchange: this.exchange, fetcher, leases: this.leases, storage: this.storage, readEnded: () => { this.collectIfOver() } })
    this.adds = new Adds({
      blocks: repo.blocks,
      pins: repo.pins,
      announcer: this.announcer,
      gc: this.gcs,
      replicas: this.replicas,
      erasure,
      repoRoot: repo.root
    }, { ...inits.transfers, notInGroup: this.replicas.inGroup ? undefined : NO_GROUP })
    this.downloads = new Downloads({
      gets: repo.gets,
      refs: repo.refs,
      fetcher,
      reads: this.reads,
      leases: this.leases,
      pinning: this.pinning,
      announcer: this.announcer,
      repairBucket: new TokenBucket(inits.rates.repair),
      erasure,
      repoRoot: repo.root,
      packs: repo.paths.packs,
      isKept: async root => await this.gcs.isKept(root),
      log: logger.forComponent('shoal:downloads')
    })
    this.peerOps = new PeerOps({ libp2p, repo, exchange: this.exchange, bans, replicas: this.replicas, discovery: this.discovery, storage: this.storage, announcer: this.announcer, leases: this.leases, rootState: root => this.references.rootState(root), maxReservations: config.relay.maxReservations })
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
      const config = withOverrides(await readConfig(repo.paths.config), options.config)
      const logger = options.logger ?? defaultLogger()
      const inits = partInits(config)
      const { conduct: conductInit, rates } = inits
      // with `metrics` set, libp2p's metrics are collected too (they cost a little on every stream);
      // without it, prom-client is not even loaded
      const metricsRegistry = config.metrics === '' ? undefined : new (await import('prom-client')).Registry()
      const bans = new BanList()
      const conduct = new PeerConduct(bans, { ...conductInit, logger })
      const downloadBucket = new TokenBucket(rates.download)
      const uploadBucket = new TokenBucket(rates.upload)
      const { groupKeyFile, trustedPeers } = config.replication
      const group = new ReplicationGroup({ key: groupKeyFile === '' ? undefined : await readGroupKey(groupKeyFile), trustedPeers })
      const libp2p = await createShoalLibp2p({
        isMember: peer => group.isMember(peer),
        swarmKey: await readSwarmKey(config.swarmKeyFile),
        privateKey: repo.privateKey,
        datastore: repo.datastore,
        config,
        kBucketSize: options.kBucketSize,
        logger,
        isBanned: peer => bans.isBanned(peer),
        onViolation: (peer, err) => { conduct.violation(peer, err.message, err instanceof ProtocolViolationError ? err.kind : 'malformed') },
        downloadThrottle: downloadBucket.unlimited ? undefined : async bytes => { await downloadBucket.take(bytes) },
        metricsRegistry,
        repoRoot: repo.root
      })
      return new ShoalNode(repo, config, inits, libp2p, logger, { bans, conduct, uploadBucket, group, metricsRegistry })
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
    await this.exchange.start()
    this.announcer.start()
    this.references.start()
    await this.replicas.start()
    this.sweeper.start()
    this.started = true
    // after a restart our provider records may have expired elsewhere; a root whose file changed meanwhile is not announced
    await this.references.check()
    for await (const pin of this.repo.pins.pins()) {
      if (this.references.servable(pin.cid)) this.announcer.announce(pin.cid)
    }
    // a root provided before the restart and kept by nothing now (read, then unpinned) is withdrawn
    await this.gcs.withdrawUnkept()
  }

  async stop (): Promise<void> {
    if (this.started) {
      this.started = false
      this.sweeper.stop()
      this.bootstrapper.stop()
      this.erasure.stop()
      await this.collecting
      await this.replicas.stop()
      await this.references.stop()
      this.announcer.stop()
      await this.exchange.stop()
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

  // the operations, each in its part

  async add (input: string, options: AddOptions = {}): Promise<ImportResult & { pinned: boolean, replication?: ReplicaStatus }> {
    return await this.adds.add(input, options)
  }

  async get (cid: CID, output: string, options: GetOptions = {}): Promise<GetResult> {
    return await this.downloads.get(cid, output, options)
  }

  /** Unfinished gets, running or interrupted. */
  async unfinished (): Promise<UnfinishedGet[]> {
    return await this.downloads.list()
  }

  cat (cid: CID, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    return this.reads.cat(cid, options)
  }

  /** What `options.path` under `root` names (only the blocks on the way are fetched). */
  async resolve (root: CID, options: ReadOptions = {}): Promise<ResolvedPath> {
    return await this.reads.resolve(root, options)
  }

  /** The entries of the directory at `options.path` under `root`. */
  async list (root: CID, options: ReadOptions & { limit?: number } = {}): Promise<DirectoryEntry[]> {
    return await this.reads.list(root, options)
  }

  /** One block, from here or fetched alone from the holders of `options.holdersOf` (the block itself by default). */
  async block (cid: CID, options: ReadOptions = {}): Promise<Uint8Array> {
    return await this.reads.block(cid, options)
  }

  /** A CAR of the content at `options.path` under `root`, as the trustless gateway's `dag-scope` says. */
  exportScoped (root: CID, scope: DagScope, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    return this.reads.exportScoped(root, scope, options)
  }

  exportCar (cid: CID, options: GetOptions = {}): AsyncGenerator<Uint8Array> {
    return this.reads.exportCar(cid, options)
  }

  async importCar (file: string, options: { pin?: boolean, signal?: AbortSignal } = {}): Promise<CarImportResult> {
    return await this.adds.importCar(file, options)
  }

  async replicate (cid: CID, options: { replicas?: number, replicasMax?: number, erasure?: ErasureScheme } & AbortOptions): Promise<ReplicaStatus> {
    return await this.replicaHost.replicate(cid, options)
  }

  async status (cid: CID, options: AbortOptions = {}): Promise<RootStatus> {
    return await this.replicaHost.status(cid, options)
  }

  /** Every replica this peer knows of, as its holders see them. */
  replicaList (): ReplicaStatus[] {
    return this.replicas.list()
  }

  /** What replication does (placements, repairs, hand-overs), as events. */
  get replicaEvents (): TypedEventTarget<ReplicaEvents> {
    return this.replicas.events
  }

  async ls (): Promise<Array<Pin & { state: RefState }>> {
    return await this.pinning.ls()
  }

  /** Stop keeping `cid` (with `downloadsOnly`, give up its unfinished gets only). */
  async rm (cid: CID, options: { downloadsOnly?: boolean } = {}): Promise<Removed[]> {
    return await this.pinning.rm(cid, options)
  }

  /** Collections run since the daemon started, and what they removed. */
  get gcTotals (): { runs: number, blocks: number, bytes: number } {
    return this.gcs.totals
  }

  /**
   * Reads (cat, export, the gateway) took the repo past `maxStorage` with
   * blocks nothing keeps: collect them (one gc at a time).
   */
  private collectIfOver (): void {
    if (!this.started || this.collecting != null || Date.now() - this.lastCollected < STORAGE_COLLECT_INTERVAL || !this.storage.overLimit) return
    this.lastCollected = Date.now()
    const log = this.logger.forComponent('shoal:storage')
    log('the repo holds %d bytes, past its limit of %d: collecting what reads stored', this.storage.repoBytes(), this.storage.use().limit)
    this.collecting = this.gcs.collect().catch(err => { log.error('collecting failed: %s', err.message) }).finally(() => { this.collecting = undefined })
  }

  /** Delete every block nothing keeps (a pin, an unfinished get, a replica, a running operation). Returns what was removed. */
  async gc (options: AbortOptions = {}): Promise<{ blocks: number, bytes: number }> {
    return await this.gcs.collect(options)
  }

  /** Read back and verify every leaf of `cid` (of every pin when none is given), from wherever it is held. */
  async verify (cid?: CID, options: AbortOptions = {}): Promise<VerifyResult[]> {
    return await this.references.verify(cid, options)
  }

  async stat (): Promise<RepoStat> {
    return await this.peerOps.stat()
  }

  peers (): PeerSummary[] {
    return this.peerOps.peers()
  }

  /** Cancel the running gets and reads of `cid` (not a replica's download); how many there were. */
  cancel (cid: CID): number {
    return this.exchange.cancel(cid, 'cancelled by the user')
  }

  /** Running downloads, uploads, and each connected peer's bytes. */
  activity (): TransfersView {
    return this.peerOps.transfers()
  }

  async connect (address: string, options: AbortOptions = {}): Promise<string> {
    return await this.peerOps.connect(address, options)
  }

  async providers (cid: CID, timeout: number, options: AbortOptions = {}): Promise<PeerSummary[]> {
    return await this.peerOps.providers(cid, timeout, options)
  }
}
