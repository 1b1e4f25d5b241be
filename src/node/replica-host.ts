import fs from 'node:fs/promises'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { InputError, NotFoundError, ReplicationError } from '../errors.js'
import { REPLICA_PROTOCOL } from '../protocol/constants.js'
import { anySignal } from '../signals.js'
import type { ShoalLibp2p } from './create-libp2p.js'
import type { Erasure } from './erasure.js'
import type { Pinning } from './pinning.js'
import type { ErasureScheme } from '../content/erasure.js'
import type { Downloads } from './downloads.js'
import type { BanList } from '../exchange/ban-list.js'
import type { ReplicaManager, ReplicaManagerComponents } from '../replication/replica-manager.js'
import type { ReplicaStatus } from '../replication/status-view.js'
import type { RefState } from '../store/refs/ref-store.js'
import type { ContentDiscovery } from '../routing/content-discovery.js'
import type { Repo } from '../store/repo.js'
import type { StorageAccountant } from '../store/storage.js'
import type { PinReason } from '../store/pin-store.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'

/**
 * Below this many peers known locally (connected, or in the peer store with
 * the replica protocol), placement also asks the DHT for the root's closest
 * peers; a query costs seconds when some of them are gone, and repairs wait.
 */
const LOCAL_CANDIDATES = 8
const CANDIDATE_QUERY_TIMEOUT = 5_000

export interface RootStatus {
  cid: string
  /** Why this peer keeps it (its pin's reasons); empty when it keeps nothing of it. */
  here: PinReason[]
  name?: string
  size: number
  /** Its copies in the swarm, when it is replicated. */
  replication?: ReplicaStatus
  /** Whether the files it is served from here are as they were (`ok` for copies in the repo). */
  state: RefState
}

export interface ReplicaHostComponents {
  libp2p: ShoalLibp2p
  repo: Repo
  discovery: ContentDiscovery
  bans: BanList
  pinning: Pinning
  storage: StorageAccountant
  /** Both are built after this (they need what it answers), hence getters. */
  downloads(): Downloads
  replicas(): ReplicaManager
  erasure(): Pick<Erasure, 'encode'>
}

/**
 * What replication needs of the rest of the node, and the node's
 * replication operations. `managerComponents` answers the replica
 * manager's questions from libp2p (candidates, providers, addresses), the
 * repo (pins, storage, disk space) and the downloads (replica downloads);
 * `replicate` and `status` are what the user asks of it.
 */
export class ReplicaHost {
  private readonly c: ReplicaHostComponents

  constructor (components: ReplicaHostComponents) {
    this.c = components
  }

  /** The replica manager's components that reach outside replication. */
  managerComponents (): Pick<ReplicaManagerComponents, 'candidates' | 'providers' | 'addressesOf' | 'isComplete' | 'keepReplica' | 'fetchReplica' | 'releaseReplica' | 'usedStorage' | 'diskSpace' | 'watchRelays' | 'isConnected'> {
    const { libp2p, repo, pinning } = this.c
    return {
      watchRelays: async onConnect => {
        const id = await libp2p.register(RELAY_V2_HOP_CODEC, { onConnect })
        // a topology hears of peers identified from now on: the relays we already reached (bootstrap) are told now
        for (const peer of new Set(libp2p.getConnections().filter(c => c.limits == null).map(c => c.remotePeer))) {
          const known = await libp2p.peerStore.get(peer).catch(() => undefined)
          if (known?.protocols.includes(RELAY_V2_HOP_CODEC) === true) onConnect(peer)
        }
        return () => { libp2p.unregister(id) }
      },
      isConnected: peer => libp2p.getConnections(peer).length > 0,
      candidates: async (root, options) => await this.candidates(root, options),
      providers: async (root, options) => {
        // what was found before the lookup was cut short counts
        const found: PeerId[] = []
        try {
          for await (const p of this.c.discovery.findProviders(root, options)) found.push(p.id)
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
      keepReplica: async root => { await pinning.keepReplica(root) },
      fetchReplica: async (root, options) => {
        const record = await repo.replicas.get(root)
        if (record?.erasure != null && record.fragment != null) {
          const { k, m, layout } = record.erasure
          await this.c.downloads().fetchFragment(root, { k, m, layout: CID.parse(layout), size: record.size }, record.fragment, options)
          return
        }
        // a DAG declaring more than the replica was admitted for is refused
        await this.c.downloads().fetchReplica(root, { ...options, size: record?.size })
      },
      releaseReplica: async root => { await pinning.releaseReplica(root) },
      // everything in the repo: block files and replica packs (being fetched too)
      usedStorage: async () => this.c.storage.repoBytes(),
      diskSpace: async () => {
        const s = await fs.statfs(repo.paths.blocks)
        return { free: s.bavail * s.bsize, total: s.blocks * s.bsize }
      }
    }
  }

  /**
   * Keep K copies (at most M) of a root this peer holds whole, added or
   * fetched: placed as `add --replicas` places them, or, for a root already
   * replicated, the new counts replace the old ones on every holder.
   */
  async replicate (cid: CID, options: { replicas?: number, replicasMax?: number, erasure?: ErasureScheme } & AbortOptions): Promise<ReplicaStatus> {
    const pin = await this.c.repo.pins.get(cid)
    if (pin == null || !(await this.c.repo.pins.isComplete(cid))) {
      throw new InputError(`${cid.toString()} is not all here: fetch it first (shoal get ${cid.toString()})`)
    }
    if (options.erasure != null) {
      if (options.replicas != null || options.replicasMax != null) throw new ReplicationError('--replicas and --erasure are two ways to keep a root in the swarm: give one')
      const { k, m } = options.erasure
      const coded = await this.c.erasure().encode(cid, options.erasure, options)
      return await this.c.replicas().replicate(cid, { min: k + m, max: k + m, size: pin.size, erasure: { k, m, layout: coded.cid }, parity: coded.layout.parity }, options)
    }
    if (options.replicas == null) throw new InputError('say how to keep it: --replicas K (copies) or --erasure K+M (fragments)')
    const max = options.replicasMax ?? options.replicas
    if (max < options.replicas) throw new ReplicationError(`--replicas-max (${max}) must be at least --replicas (${options.replicas})`)
    return await this.c.replicas().replicate(cid, { min: options.replicas, max, size: pin.size }, options)
  }

  /**
   * A root as this peer keeps it (its pin's reasons) and, if it is
   * replicated, where its copies are: from our own view when we are a
   * holder, else from what its holders say. NotFoundError when this peer
   * keeps nothing of it and no holder answered.
   */
  async status (cid: CID, options: AbortOptions = {}): Promise<RootStatus> {
    const pin = await this.c.repo.pins.get(cid)
    const replication = await this.c.replicas().status(cid, options)
    if (replication == null && pin == null) {
      throw new NotFoundError(`this peer keeps nothing of ${cid.toString()}, and no holder of a replica of it answered`)
    }
    const state = this.c.pinning.rootState(cid)
    return { cid: cid.toString(), here: pin?.reasons ?? [], name: pin?.name, size: replication?.size ?? pin?.size ?? 0, replication, state }
  }

  /** Peers that might take a replica of `root` (the replica manager orders them by distance). */
  private async candidates (root: CID, options: AbortOptions & { thorough?: boolean }): Promise<PeerId[]> {
    const { libp2p } = this.c
    const found = new Map<string, PeerId>()
    for (const peer of libp2p.getPeers()) found.set(peer.toString(), peer)
    for (const peer of await libp2p.peerStore.all({ filters: [p => p.protocols.includes(REPLICA_PROTOCOL)] })) {
      found.set(peer.id.toString(), peer.id)
    }
    if (options.thorough === true || found.size < LOCAL_CANDIDATES) {
      const signal = anySignal(AbortSignal.timeout(CANDIDATE_QUERY_TIMEOUT), options.signal)
      try {
        for await (const peer of libp2p.peerRouting.getClosestPeers(root.multihash.bytes, { signal })) {
          found.set(peer.id.toString(), peer.id)
        }
      } catch {
        // a slow or failed query leaves the peers we already know
      }
    }
    found.delete(libp2p.peerId.toString())
    for (const banned of this.c.bans.list()) found.delete(banned.peer)
    return [...found.values()]
  }
}
