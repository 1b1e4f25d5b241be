import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { InputError } from '../errors.js'
import { anySignal } from '../signals.js'
import { dhtRoutingTable } from './create-libp2p.js'
import type { ShoalLibp2p } from './create-libp2p.js'
import type { BanList } from '../exchange/ban-list.js'
import type { DownloadInfo, Exchange } from '../exchange/exchange.js'
import type { ReplicaManager } from '../replication/replica-manager.js'
import type { ContentDiscovery } from '../routing/content-discovery.js'
import type { Leases } from './leases.js'
import type { Announcer } from '../routing/announcer.js'
import type { Repo } from '../store/repo.js'
import type { RefState } from '../store/refs/ref-store.js'
import type { StorageAccountant, StorageUse } from '../store/storage.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

import type { ReachabilityStatus } from './reachability.js'

export interface RepoStat {
  repo: string
  /** Block files in the repo, and their bytes (also in `storage.blocks`). */
  blocks: number
  bytes: number
  /** What this peer stores, part by part, and the limit. */
  storage: StorageUse
  /** Roots this peer tells the DHT it provides. */
  provided: number
  /** Roots kept by operations running now, with their holders by kind. */
  leases: ReturnType<Leases['list']>
  pins: number
  peers: number
  /** Peers in the DHT's routing table. */
  dhtPeers: number
  bytesSent: number
  bytesReceived: number
  activeDownloads: number
  activeUploads: number
  /** Peers banned for sending blocks that failed verification. */
  banned: Array<{ peer: string, until: number, reason: string }>
  /** Roots held as replicas, and replica downloads running. */
  replicas: number
  activeRepairs: number
  /** Files shared in place (not copied into the repo), their bytes, and the roots no longer served because one changed or went. */
  referenced: { files: number, bytes: number, modified: string[], missing: string[] }
  /** Whether other peers can dial this one, why we think so, and our relayed addresses. */
  reachability: ReachabilityStatus
  /** With `relay.service`: the peers reachable through us now. */
  relaying?: { reservations: number, max: number }
}

export interface PeerSummary {
  peerId: string
  addresses: string[]
}

/** What moves now: running downloads, uploads, and the bytes each connected peer exchanged with us. */
export interface TransfersView {
  downloads: DownloadInfo[]
  activeUploads: number
  peers: Array<{ peerId: string, bytesSent: number, bytesReceived: number }>
  /** Totals since the daemon started. */
  bytesSent: number
  bytesReceived: number
}

export interface PeerOpsComponents {
  libp2p: ShoalLibp2p
  repo: Repo
  exchange: Exchange
  bans: BanList
  replicas: ReplicaManager
  discovery: ContentDiscovery
  storage: StorageAccountant
  announcer: Announcer
  leases: Leases
  /** The state a root is served in (`ok` when a changed or missing file of it is held elsewhere too). */
  rootState(root: string): RefState
  /** With `relay.service`: reservations held at once. */
  maxReservations: number
}

/** The node's operations on peers and its own state: stat, peers, connect, providers. */
export class PeerOps {
  private readonly c: PeerOpsComponents

  constructor (components: PeerOpsComponents) {
    this.c = components
  }

  async stat (): Promise<RepoStat> {
    const { repo, exchange, replicas } = this.c
    const storage = this.c.storage.use()
    let pins = 0
    for await (const _ of repo.pins.pins()) pins++
    const total = exchange.ledger.total
    return {
      repo: repo.root,
      blocks: storage.blocks.count,
      bytes: storage.blocks.bytes,
      storage,
      provided: (await this.c.announcer.provided()).length,
      leases: this.c.leases.list(),
      pins,
      peers: this.c.libp2p.getPeers().length,
      dhtPeers: dhtRoutingTable(this.c.libp2p)?.size ?? 0,
      bytesSent: total.bytesSent,
      bytesReceived: total.bytesReceived,
      activeDownloads: exchange.activeDownloads,
      activeUploads: exchange.activeUploads,
      banned: this.c.bans.list(),
      replicas: replicas.list().filter(r => r.local).length,
      activeRepairs: replicas.activeRepairs,
      referenced: this.referenced(),
      reachability: this.c.libp2p.services.reachability.status(),
      relaying: this.relaying()
    }
  }

  private relaying (): RepoStat['relaying'] {
    const relay = this.c.libp2p.services.relay
    return relay == null ? undefined : { reservations: relay.reservations.size, max: this.c.maxReservations }
  }

  private referenced (): RepoStat['referenced'] {
    const files = this.c.repo.refs.list()
    // roots not served for a file that changed or went (and whose blocks are not all held elsewhere)
    const roots = (state: string): string[] => [...new Set(files.filter(f => f.state === state).flatMap(f => f.roots))].filter(r => this.c.rootState(r) === state)
    return { files: files.length, bytes: files.reduce((n, f) => n + f.size, 0), modified: roots('modified'), missing: roots('missing') }
  }

  transfers (): TransfersView {
    const { exchange } = this.c
    const peers = [...new Set(this.c.libp2p.getPeers().map(p => p.toString()))].map(peerId => {
      const t = exchange.ledger.get(peerId)
      return { peerId, bytesSent: t?.bytesSent ?? 0, bytesReceived: t?.bytesReceived ?? 0 }
    })
    const total = exchange.ledger.total
    return { downloads: exchange.downloads(), activeUploads: exchange.activeUploads, peers, bytesSent: total.bytesSent, bytesReceived: total.bytesReceived }
  }

  peers (): PeerSummary[] {
    const byPeer = new Map<string, string[]>()
    for (const conn of this.c.libp2p.getConnections()) {
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
    const conn = await this.c.libp2p.dial(ma, options)
    return conn.remotePeer.toString()
  }

  /** Peers the DHT names as holders of `cid`, found within `timeout` ms. */
  async providers (cid: CID, timeout: number, options: AbortOptions = {}): Promise<PeerSummary[]> {
    const found = new Map<string, PeerSummary>()
    const signal = anySignal(AbortSignal.timeout(timeout), options.signal)
    try {
      for await (const p of this.c.discovery.findProviders(cid, { signal })) {
        found.set(p.id.toString(), { peerId: p.id.toString(), addresses: p.multiaddrs.map(m => m.toString()) })
      }
    } catch (err) {
      if (!signal.aborted || options.signal?.aborted === true) throw err
    }
    return [...found.values()]
  }
}
