import type { BanList } from './ban-list.js'
import type { BlockSource } from './block-source.js'
import type { Ledger } from './ledger.js'
import type { ProviderFinder } from './provider-finder.js'
import type { SwarmRegistry } from './swarm-registry.js'
import type { BlockWriter } from './block-sink.js'
import type { TokenBucket } from './token-bucket.js'
import type { WantManager } from './want-manager.js'
import type { BlockStore } from '../store/block-store.js'
import type { ComponentLogger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Emits `peer:connect` for each new connection (libp2p's event target). */
export interface ConnectEvents {
  addEventListener(type: 'peer:connect', fn: (e: CustomEvent<PeerId>) => void): void
  removeEventListener(type: 'peer:connect', fn: (e: CustomEvent<PeerId>) => void): void
}

export interface FetchSessionComponents {
  blocks: BlockStore
  /** Block protocols to ask peers through, tried in order for each peer. */
  sources: BlockSource[]
  swarms: SwarmRegistry
  /** The node-wide want list: blocks another download fetches are not asked for twice. */
  wants: WantManager
  discovery: ProviderFinder
  ledger: Ledger
  bans: BanList
  logger: ComponentLogger
  /** This peer, so it is never asked for its own blocks. */
  self: PeerId
  /** Peers connected now: asked first whether they hold the root. */
  connectedPeers(): PeerId[]
  /** Newcomers are asked too. */
  events: ConnectEvents
}

export interface FetchSessionInit {
  root: CID
  /**
   * The root whose holders to look for, when `root` is a block or a sub-DAG
   * of it (a path inside a directory, a gateway's block): holders are found
   * by this root and asked for `root`'s blocks directly, outside any swarm.
   */
  holdersOf?: CID
  /** `block`: fetch `root`'s own block only, not the DAG under it. */
  scope?: 'all' | 'block'
  /** Most requests outstanding per peer. */
  maxWindow: number
  /** A request unanswered for this long drops the peer (ms). */
  requestTimeout: number
  /** Fail when no block arrived and no holder could be reached for this long (ms). */
  providerTimeout: number
  /** How long a peer that sent a bad block is banned (ms). */
  banTime: number
  /** Fetch leaves in file order within a window (for streaming), not rarest first. */
  sequential?: boolean
  /** Longest one provider query may run (ms). */
  queryTimeout?: number
  /** How often to look for more holders while downloading (ms). */
  rediscoverInterval?: number
  onProgress?(progress: FetchProgress): void
  /** The first leaf is stored: this peer can serve part of the root. */
  onServable?(): void
  /** No peer holding anything of the root was found within a second: still searching; it gives up when `timeout` ms (the whole search, from its start) pass with none found. */
  onSearching?(timeout: number): void
  /** A block is verified and on disk (fetched by this download or by another one of the same DAG). */
  onStored?(cid: CID): void
  /** Paces this session's requests (replica repairs share one bucket). */
  rateLimit?: TokenBucket
  /** Where verified blocks go (default: the block store). */
  writer?: BlockWriter
  /**
   * The DAG's size as its root declares it (every block, in bytes), once
   * known: throws if this download may not take that much (no room for it,
   * more than a replica was admitted for), which ends the download.
   */
  checkSize?(bytes: number): void
}

export interface FetchProgress {
  /** Blocks known to belong to the DAG so far (grows as interior nodes arrive). */
  blocksKnown: number
  /** Of those, blocks on disk (fetched now or held before). */
  blocksDone: number
  /** Bytes fetched from peers in this session. */
  bytesFetched: number
  /** Bytes of the DAG on disk (fetched now or held before). */
  bytesDone: number
  /** Bytes of the whole DAG (every block), once the root is known; 0 before. */
  bytesTotal: number
  /** Peers we are fetching from. */
  peers: number
}

export interface PeerContribution {
  peerId: string
  bytes: number
  blocks: number
}

export interface FetchResult {
  root: CID
  blocksFetched: number
  bytesFetched: number
  /** Blocks that were already on disk (a resumed download). */
  blocksAlreadyHeld: number
  /** Blocks another download of the same DAG fetched while this one ran. */
  blocksShared: number
  /** Copies of blocks that arrived after another peer's copy (endgame duplicates). */
  duplicateBlocks: number
  peers: PeerContribution[]
  /** Peers this session stopped asking, and why (a timeout, a lie, a closed stream): one entry per peer and reason. */
  dropped: Array<{ peerId: string, reason: string }>
  seconds: number
}
