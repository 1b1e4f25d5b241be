import { ReplicationError } from '../errors.js'
import { importCar } from './car-import.js'
import { repoFull } from './disk-full.js'
import { importPath } from './import-path.js'
import type { CarImportResult } from './car-import.js'
import type { Erasure } from './erasure.js'
import type { ErasureScheme } from '../content/erasure.js'
import type { GarbageCollector } from './gc.js'
import type { ImportOptions, ImportResult } from './import-path.js'
import type { ReplicaManager } from '../replication/replica-manager.js'
import type { ReplicaStatus } from '../replication/status-view.js'
import type { Announcer } from '../routing/announcer.js'
import type { BlockStore } from '../store/block-store.js'
import type { PinStore } from '../store/pin-store.js'

export interface AddOptions extends ImportOptions {
  pin?: boolean
  /** Keep this many copies in the swarm (K); 1 keeps only this peer's. */
  replicas?: number
  /** Copies above this are trimmed (default: replicas). */
  replicasMax?: number
  /** Keep it erasure-coded instead: K data and M parity fragments per stripe, one per peer. */
  erasure?: ErasureScheme
}

export interface AddsComponents {
  blocks: BlockStore
  pins: PinStore
  announcer: Announcer
  gc: GarbageCollector
  replicas: ReplicaManager
  erasure: Pick<Erasure, 'encode'>
  /** The repo's directory, named when its disk is full. */
  repoRoot: string
}

export interface AddsInit {
  chunkSize: number
  /** Copies an add keeps when it does not say (K). */
  replicas: number
  /** Says why `add --replicas` cannot replicate (undefined: this peer is in a group). */
  notInGroup?: string
}

/**
 * Content into this peer from the user: files and directories (`add`,
 * referred to in place or copied), and CAR files (`import`). Blocks are
 * stored and pinned with no gc in between, then announced; `add` with K > 1
 * also places K copies on the peers closest to the root, and with
 * `erasure` codes it and places its K + M fragments.
 */
export class Adds {
  private readonly c: AddsComponents
  private readonly init: AddsInit

  constructor (components: AddsComponents, init: AddsInit) {
    this.c = components
    this.init = init
  }

  /**
   * Import a file or directory, pin it and announce it; with `replicas` > 1,
   * also place that many copies on the peers closest to the root.
   */
  async add (input: string, options: AddOptions = {}): Promise<ImportResult & { pinned: boolean, replication?: ReplicaStatus }> {
    if (options.erasure != null && (options.replicas != null || options.replicasMax != null)) {
      throw new ReplicationError('--replicas and --erasure are two ways to keep a root in the swarm: give one')
    }
    const replicas = options.erasure != null ? 1 : options.replicas ?? this.init.replicas
    const replicasMax = options.replicasMax ?? replicas
    if ((replicas > 1 || options.erasure != null) && this.init.notInGroup != null) throw new ReplicationError(this.init.notInGroup)
    if (replicasMax < replicas) {
      throw new ReplicationError(`--replicas-max (${replicasMax}) must be at least --replicas (${replicas})`)
    }
    const pinned = options.pin !== false
    // a gc must not run between storing the blocks and pinning them
    const result = await this.c.gc.writing(async () => {
      const imported = await importPath(this.c.blocks, input, { chunkSize: this.init.chunkSize, ...options })
      const info = { cid: imported.cid, name: imported.name, size: imported.size, type: imported.type, created: Date.now() }
      if (pinned) await this.c.pins.pin(info, 'user')
      // with --no-pin a replicated root is kept only as a replica: trimmed like any other copy
      if (replicas > 1) await this.c.pins.pin(info, 'replica')
      return imported
    }).catch(err => { throw repoFull(err, this.c.repoRoot, 'nothing was added; the blocks stored so far go at the next gc') })
    this.c.announcer.announce(result.cid)
    if (options.erasure != null) {
      const { k, m } = options.erasure
      const coded = await this.c.erasure.encode(result.cid, options.erasure, options)
      const replication = await this.c.replicas.replicate(result.cid, { min: k + m, max: k + m, size: result.size, erasure: { k, m, layout: coded.cid }, parity: coded.layout.parity }, options)
      return { ...result, pinned, replication }
    }
    if (replicas > 1) {
      const replication = await this.c.replicas.replicate(result.cid, { min: replicas, max: replicasMax, size: result.size }, options)
      return { ...result, pinned, replication }
    }
    return { ...result, pinned }
  }

  /**
   * Store every block of a CAR file (each verified against its CID), then pin
   * and announce its roots. A root whose DAG the CAR does not hold whole, or
   * whose shape is past Shoal's bounds, is refused and nothing is pinned; its
   * blocks go at the next gc.
   */
  async importCar (file: string, options: { pin?: boolean, signal?: AbortSignal } = {}): Promise<CarImportResult> {
    const pin = options.pin !== false
    const result = await this.c.gc.writing(async () => {
      const imported = await importCar(this.c.blocks, file, options)
      // pinned before a gc may run: an unpinned import is kept until the next one only
      if (pin) for (const root of imported.roots) await this.c.pins.pin({ cid: root.cid, name: root.name, size: root.size, type: root.type, created: Date.now() }, 'user')
      return imported
    }).catch(err => { throw repoFull(err, this.c.repoRoot, 'nothing was imported; the blocks stored so far go at the next gc') })
    for (const root of result.roots) this.c.announcer.announce(root.cid)
    return { ...result, pinned: pin }
  }
}
