import { BlockServer } from './block-server.js'
import { AbortError } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { FetchSession } from './fetch-session.js'
import { Ledger } from './ledger.js'
import { SwarmRegistry } from './swarm-registry.js'
import { anySignal } from '../signals.js'
import type { BanList } from './ban-list.js'
import type { Bitfield } from './bitfield.js'
import { WantManager } from './want-manager.js'
import type { BlockWriter } from './block-sink.js'
import type { BlockSource } from './block-source.js'
import type { ConnectEvents, FetchProgress, FetchResult, PeerContribution } from './session-types.js'
import type { TokenBucket } from './token-bucket.js'
import type { BitswapNetwork } from '../protocol/bitswap-network.js'
import type { BlockNetwork } from '../protocol/block-network.js'
import type { SwarmNetwork } from '../protocol/swarm-network.js'
import type { ProviderFinder } from './provider-finder.js'
import type { BlockStore } from '../store/block-store.js'
import type { ComponentLogger, PeerId, PeerStore, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface ExchangeComponents {
  network: BlockNetwork
  /** Bitswap, if on: a second block protocol, served and fetched through like the first. */
  bitswap?: BitswapNetwork
  swarmNetwork: SwarmNetwork
  blocks: BlockStore
  discovery: ProviderFinder
  peerStore: PeerStore
  bans: BanList
  uploadBucket: TokenBucket
  logger: ComponentLogger
  peerId: PeerId
  /** Peers connected now. */
  connectedPeers(): PeerId[]
  /** Source of `peer:connect` events (the libp2p node). */
  events: ConnectEvents
  /** Whether this peer holds the whole DAG under `root`. */
  holdsComplete(root: CID): Promise<boolean>
  /** The leaves this peer keeps of a root it keeps part of (an erasure fragment). */
  holdsPart?(root: CID): Promise<Bitfield | undefined>
}

export interface ExchangeLimits {
  /** Block requests one peer may have queued with us at once. */
  maxRequestsPerPeer: number
  /** Blocks being read and sent at once, across all peers. */
  maxConcurrentUploads: number
  /** Blocks a download keeps requested from one peer at once. */
  requestWindow: number
  /** How long to wait for a requested block before asking someone else (ms). */
  requestTimeout: number
  /** How long a download waits with no reachable holder before it fails (ms). */
  providerTimeout: number
  /** How long a peer that lied is banned (ms). */
  banTime: number
}

/** What a download is for: a user's `get`, a replica this peer keeps, or a read (`cat`, the gateway, an export). */
export type DownloadPurpose = 'get' | 'replica' | 'read'

/** A download running now, as `shoal top` and the web page show it. */
export interface DownloadInfo extends FetchProgress {
  root: string
  purpose: DownloadPurpose
  /** The output's name, when the download has one. */
  name?: string
  /** When it began (ms since the epoch). */
  startedAt: number
  /** Bytes each peer sent it so far. */
  contributors: PeerContribution[]
}

export interface ExchangeEvents {
  /** A download ended (`ok`: every block is here; `failed`; `aborted`: cancelled or the daemon stopping). */
  'download:end': CustomEvent<{ purpose: DownloadPurpose, outcome: 'ok' | 'failed' | 'aborted', seconds: number, bytes: number, duplicateBlocks: number }>
}

export interface FetchOptions {
  signal?: AbortSignal
  /** What the download is for (default `read`): how it is counted. */
  purpose?: DownloadPurpose
  /** A name to show it under (a get's output). */
  name?: string
  onProgress?(progress: FetchProgress): void
  /** Override the configured provider timeout (ms). */
  providerTimeout?: number
  /** Fetch in file order (for streaming) instead of rarest first. */
  sequential?: boolean
  /** The first leaf is stored: this peer can serve part of the root. */
  onServable?(): void
  /** No holder found yet: still searching; it gives up when `timeout` ms (the whole search, from its start) pass with none found. */
  onSearching?(timeout: number): void
  /** A block is verified and on disk. */
  onStored?(cid: CID): void
  /** Paces the download (replica repairs share one bucket). */
  rateLimit?: TokenBucket
  /** Where verified blocks go (default: the block store); a layout writes leaves into the output. */
  writer?: BlockWriter
  /** `cid` is a block or sub-DAG of this root: its holders are looked for and asked directly. */
  holdersOf?: CID
  /** `block`: fetch the CID's own block only. */
  scope?: 'all' | 'block'
  /** The DAG's declared size is known: throws if the download may not take that much. */
  checkSize?(bytes: number): void
}

/**
 * The block exchange: serves our blocks to peers (`BlockServer`), keeps the
 * swarms of the roots we download or seed (`SwarmRegistry`), and runs one
 * `FetchSession` per download. Keeps the per-peer ledger of bytes moved.
 */
export class Exchange extends TypedEventEmitter<ExchangeEvents> implements Startable {
  readonly ledger = new Ledger()
  /** What the running downloads need, node-wide: no block is asked for twice. */
  readonly wants = new WantManager()
  readonly swarms: SwarmRegistry
  private readonly c: ExchangeComponents
  private readonly limits: ExchangeLimits
  private readonly server: BlockServer
  /** Running downloads, with what they are for and when they began. */
  private readonly sessions = new Map<FetchSession, { purpose: DownloadPurpose, name?: string, startedAt: number, controller: AbortController }>()
  private controller = new AbortController()
  /** Block protocols downloads ask peers through: Shoal's own first, then Bitswap (peers that speak only it). */
  private readonly sources: BlockSource[]

  constructor (components: ExchangeComponents, limits: ExchangeLimits) {
    super()
    this.c = components
    this.limits = limits
    const bitswap = components.bitswap == null ? [] : [components.bitswap]
    this.sources = [components.network, ...bitswap]
    this.server = new BlockServer({ ...components, networks: [components.network, ...bitswap], ledger: this.ledger }, limits)
    this.swarms = new SwarmRegistry({ ...components, network: components.swarmNetwork })
  }

  /** Serve blocks and swarms; a stopped exchange can be started again. */
  async start (): Promise<void> {
    this.controller = new AbortController()
    await this.server.start()
    await this.swarms.start()
  }

  async stop (): Promise<void> {
    this.controller.abort(new AbortError('daemon stopping'))
    await this.server.stop()
    await this.swarms.stop()
  }

  get activeDownloads (): number {
    return this.sessions.size
  }

  get activeUploads (): number {
    return this.server.activeUploads
  }

  /** Block requests waiting for an answer: peers' requests queued with us, and ours sent to peers. */
  requestsInFlight (): { inbound: number, outbound: number } {
    let outbound = 0
    for (const s of this.sessions.keys()) outbound += s.requestsInFlight
    return { inbound: this.server.requestsQueued, outbound }
  }

  /** The downloads running now, oldest first. */
  downloads (): DownloadInfo[] {
    return [...this.sessions].map(([session, { purpose, name, startedAt }]) => ({
      root: session.root.toString(),
      purpose,
      name,
      startedAt,
      ...session.state(),
      contributors: session.contributors()
    }))
  }

  /**
   * Cancel the users' downloads of `root` (gets and reads; a replica's
   * download belongs to replication, which would start it again). Their
   * callers see an AbortError. Returns how many were cancelled.
   */
  cancel (root: CID, reason = 'cancelled'): number {
    let n = 0
    for (const [session, { purpose, controller }] of this.sessions) {
      if (purpose === 'replica' || !session.root.equals(root)) continue
      controller.abort(new AbortError(reason))
      n++
    }
    return n
  }

  /** Fetch every block of the DAG under `root` into the local store. */
  async fetch (root: CID, options: FetchOptions = {}): Promise<FetchResult> {
    const session = new FetchSession({
      ...this.c,
      sources: this.sources,
      self: this.c.peerId,
      ledger: this.ledger,
      swarms: this.swarms,
      wants: this.wants
    }, {
      root,
      maxWindow: this.limits.requestWindow,
      requestTimeout: this.limits.requestTimeout,
      providerTimeout: options.providerTimeout ?? this.limits.providerTimeout,
      banTime: this.limits.banTime,
      sequential: options.sequential,
      onProgress: options.onProgress,
      onServable: options.onServable,
      onSearching: options.onSearching,
      onStored: options.onStored,
      rateLimit: options.rateLimit,
      writer: options.writer,
      holdersOf: options.holdersOf,
      scope: options.scope,
      checkSize: options.checkSize
    })
    const started = Date.now()
    const own = new AbortController()
    this.sessions.set(session, { purpose: options.purpose ?? 'read', name: options.name, startedAt: started, controller: own })
    const signal = anySignal(this.controller.signal, options.signal, own.signal)
    const ended = (outcome: 'ok' | 'failed' | 'aborted'): void => {
      const { bytes, duplicates } = session.tally
      this.safeDispatchEvent('download:end', {
        detail: { purpose: options.purpose ?? 'read', outcome, seconds: (Date.now() - started) / 1000, bytes, duplicateBlocks: duplicates }
      })
    }
    try {
      const result = await session.run(signal)
      ended('ok')
      return result
    } catch (err) {
      ended(signal.aborted ? 'aborted' : 'failed')
      throw err
    } finally {
      this.sessions.delete(session)
    }
  }
}
