import { BlockServer } from './block-server.js'
import { FetchSession } from './fetch-session.js'
import { Ledger } from './ledger.js'
import type { FetchProgress, FetchResult } from './fetch-session.js'
import type { BlockNetwork } from '../protocol/block-network.js'
import type { ContentDiscovery } from '../routing/content-discovery.js'
import type { BlockStore } from '../store/block-store.js'
import type { LimitsConfig } from '../store/config.js'
import type { ComponentLogger, PeerId, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface ExchangeComponents {
  network: BlockNetwork
  blocks: BlockStore
  discovery: ContentDiscovery
  logger: ComponentLogger
  peerId: PeerId
}

export type ExchangeLimits = Pick<LimitsConfig, 'maxRequestsPerPeer' | 'maxConcurrentUploads' | 'requestWindow' | 'requestTimeout' | 'providerTimeout'>

export interface FetchOptions {
  signal?: AbortSignal
  onProgress?(progress: FetchProgress): void
  /** Override the configured provider timeout (ms). */
  providerTimeout?: number
}

/**
 * The block exchange: serves our blocks to peers (`BlockServer`) and runs one
 * `FetchSession` per download. Keeps the per-peer ledger of bytes moved.
 */
export class Exchange implements Startable {
  readonly ledger = new Ledger()
  private readonly components: ExchangeComponents
  private readonly limits: ExchangeLimits
  private readonly server: BlockServer
  private readonly sessions = new Set<FetchSession>()
  private readonly controller = new AbortController()

  constructor (components: ExchangeComponents, limits: ExchangeLimits) {
    this.components = components
    this.limits = limits
    this.server = new BlockServer({ ...components, ledger: this.ledger }, limits)
  }

  start (): void {
    this.server.start()
  }

  stop (): void {
    this.controller.abort(new Error('daemon stopping'))
    this.server.stop()
  }

  get activeDownloads (): number {
    return this.sessions.size
  }

  get activeUploads (): number {
    return this.server.activeUploads
  }

  /** Fetch every block of the DAG under `root` into the local store. */
  async fetch (root: CID, options: FetchOptions = {}): Promise<FetchResult> {
    const session = new FetchSession({
      ...this.components,
      self: this.components.peerId,
      ledger: this.ledger
    }, {
      root,
      requestWindow: this.limits.requestWindow,
      requestTimeout: this.limits.requestTimeout,
      providerTimeout: options.providerTimeout ?? this.limits.providerTimeout,
      onProgress: options.onProgress
    })
    this.sessions.add(session)
    const signal = AbortSignal.any([this.controller.signal, ...(options.signal != null ? [options.signal] : [])])
    try {
      return await session.run(signal)
    } finally {
      this.sessions.delete(session)
    }
  }
}
