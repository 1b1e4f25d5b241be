import type { ShoalConfig } from './schema.js'
import type { ExchangeLimits } from '../exchange/exchange.js'
import type { PeerConductInit } from '../exchange/peer-conduct.js'
import type { ReplicaManagerInit } from '../replication/replica-manager.js'
import { IPFS_BOOTSTRAP } from '../routing/constants.js'
import type { BootstrapperInit } from '../routing/bootstrapper.js'
import type { RoutingTableSweeperInit } from '../routing/routing-table-sweeper.js'

/** Each part's settings, as the node's composition root hands them out. */
export interface PartInits {
  exchange: ExchangeLimits
  conduct: Omit<PeerConductInit, 'logger'>
  replication: ReplicaManagerInit
  bootstrap: BootstrapperInit
  sweeper: RoutingTableSweeperInit
  /** Bytes per second: uploads, downloads, replica downloads together (0: unlimited). */
  rates: { upload: number, download: number, repair: number }
  transfers: { chunkSize: number, replicas: number }
  /** Bytes the repo may hold (0: unlimited). */
  storage: { maxStorage: number }
}

/**
 * The one place that maps the user's config (the repo's `config.json` and
 * the command line) to what each part takes. The parts keep their own
 * defaults in their `constants.ts` and know nothing of the config file.
 */
export function partInits (config: ShoalConfig): PartInits {
  const { limits, replication } = config
  return {
    exchange: {
      maxRequestsPerPeer: limits.maxRequestsPerPeer,
      maxConcurrentUploads: limits.maxConcurrentUploads,
      requestWindow: limits.requestWindow,
      requestTimeout: limits.requestTimeout,
      providerTimeout: limits.providerTimeout,
      banTime: limits.banTime
    },
    conduct: { maxViolations: limits.maxViolations, banTime: limits.banTime },
    replication: {
      checkInterval: replication.checkInterval,
      probeTimeout: replication.probeTimeout,
      gracePeriod: replication.gracePeriod,
      maxConcurrentRepairs: replication.maxConcurrentRepairs,
      leaveTimeout: replication.leaveTimeout,
      erasureLazy: replication.erasureLazy < 0 ? undefined : replication.erasureLazy,
      maxStorage: config.maxStorage
    },
    bootstrap: { list: config.ipfsBootstrap ? [...config.bootstrap, ...IPFS_BOOTSTRAP] : config.bootstrap },
    // a contact that stopped answering leaves the routing table once a replica holder would be given up
    sweeper: { delay: replication.gracePeriod, timeout: replication.probeTimeout },
    rates: { upload: config.maxUploadRate, download: config.maxDownloadRate, repair: replication.repairRate },
    transfers: { chunkSize: config.chunkSize, replicas: replication.replicas },
    storage: { maxStorage: config.maxStorage }
  }
}

/** The repo's config with this run's overrides (command-line flags) on top, section by section. */
export function withOverrides (config: ShoalConfig, overrides: Partial<ShoalConfig> = {}): ShoalConfig {
  return {
    ...config,
    ...overrides,
    limits: { ...config.limits, ...overrides.limits },
    replication: { ...config.replication, ...overrides.replication },
    relay: { ...config.relay, ...overrides.relay }
  }
}
