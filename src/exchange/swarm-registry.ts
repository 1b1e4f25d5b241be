import { Swarm } from './swarm.js'
import type { Bitfield } from './bitfield.js'
import type { SwarmChannel, SwarmNetwork } from '../protocol/swarm-network.js'
import type { ComponentLogger, Logger, PeerId, PeerStore } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface SwarmRegistryComponents {
  network: SwarmNetwork
  peerStore: PeerStore
  peerId: PeerId
  logger: ComponentLogger
  /** Whether this peer holds the whole DAG under `root` (it may seed it). */
  holdsComplete(root: CID): Promise<boolean>
  /** The leaves this peer keeps of a root it keeps part of (a fragment of an erasure-coded root), with every interior node; undefined if none. */
  holdsPart?(root: CID): Promise<Bitfield | undefined>
}

/**
 * The swarms this peer takes part in, one per root: those of its downloads,
 * and short-lived seeding swarms created when a downloader opens a swarm
 * stream for a root this peer holds. A stream for a root we hold nothing of
 * is answered with an empty state and closed.
 */
export class SwarmRegistry {
  private readonly c: SwarmRegistryComponents
  private readonly log: Logger
  private readonly swarms = new Map<string, { swarm: Swarm, users: number }>()
  /** Swarms already set to retire once idle (one listener each, however often released). */
  private readonly retiring = new WeakSet<Swarm>()

  constructor (components: SwarmRegistryComponents) {
    this.c = components
    this.log = components.logger.forComponent('shoal:swarms')
  }

  async start (): Promise<void> {
    await this.c.network.onInbound(channel => { void this.inbound(channel) })
  }

  async stop (): Promise<void> {
    await this.c.network.onInbound(undefined)
    for (const { swarm } of this.swarms.values()) swarm.close()
    this.swarms.clear()
  }

  /** Join the swarm of `root` for a download; call `release` when done. */
  join (root: CID): Swarm {
    const key = root.toString()
    let entry = this.swarms.get(key)
    if (entry == null) {
      entry = { swarm: this.create(root, false), users: 0 }
      this.swarms.set(key, entry)
    }
    entry.users++
    return entry.swarm
  }

  release (swarm: Swarm): void {
    const key = swarm.root.toString()
    const entry = this.swarms.get(key)
    if (entry?.swarm !== swarm) return
    entry.users--
    if (entry.users > 0) return
    if (swarm.isComplete && swarm.size > 0) {
      // a finished download keeps seeding the peers it is talking to
      this.retireWhenIdle(key, swarm)
    } else {
      this.swarms.delete(key)
      swarm.close()
    }
  }

  /** Close a seeding swarm once its last peer is gone and no download uses it. */
  private retireWhenIdle (key: string, swarm: Swarm): void {
    if (this.retiring.has(swarm)) return
    this.retiring.add(swarm)
    swarm.addEventListener('peer:gone', () => {
      const current = this.swarms.get(key)
      if (current?.swarm === swarm && current.users === 0 && swarm.size === 0) {
        this.swarms.delete(key)
        swarm.close()
      }
    })
  }

  /** Leave the swarms no download uses whose root we no longer keep (after gc or rm). */
  retireUnless (keep: (root: CID) => boolean): void {
    for (const [key, entry] of [...this.swarms]) {
      if (entry.users > 0 || keep(entry.swarm.root)) continue
      this.swarms.delete(key)
      entry.swarm.close()
    }
  }

  get (root: CID): Swarm | undefined {
    return this.swarms.get(root.toString())?.swarm
  }

  private create (root: CID, complete: boolean): Swarm {
    return new Swarm(root, {
      network: this.c.network,
      peerStore: this.c.peerStore,
      self: this.c.peerId,
      log: this.log
    }, complete)
  }

  private async inbound (channel: SwarmChannel): Promise<void> {
    const key = channel.root.toString()
    let entry = this.swarms.get(key)
    if (entry == null) {
      const complete = await this.c.holdsComplete(channel.root)
      const part = complete ? undefined : await this.c.holdsPart?.(channel.root).catch(() => undefined)
      // another stream for the same root may have made the swarm while we asked
      entry = this.swarms.get(key)
      if (entry == null && !complete && part == null) {
        await channel.send({ root: channel.root.bytes as Uint8Array<ArrayBuffer> }).catch(() => {})
        await channel.close().catch(() => {})
        return
      }
      if (entry == null) {
        // seed (the whole root, or the leaves we keep of it): the swarm lives while downloaders talk to us
        const swarm = this.create(channel.root, complete)
        if (part != null) swarm.setLeaves(part)
        entry = { swarm, users: 0 }
        this.swarms.set(key, entry)
        this.retireWhenIdle(key, swarm)
      }
    }
    entry.swarm.attach(channel)
  }
}
