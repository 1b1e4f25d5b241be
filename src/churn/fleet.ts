import fs from 'node:fs/promises'
import path from 'node:path'
import { initRepo } from '../config/file.js'
import { DEFAULT_PORT, defaultConfig } from '../config/schema.js'
import { HostLab } from '../lab/host-lab.js'
import { newGroupKey } from '../replication/group.js'
import { sleep } from '../signals.js'
import { PeerProcess } from './peer-process.js'
import type { ChurnOptions } from './options.js'
import type { Random } from './model.js'
import type { PeerPlacement } from './peer-process.js'

/** Connections every peer should have before files are added. */
const MESH_PEERS = 5
const MESH_TIMEOUT = 120_000
/** Each poll asks every peer: at least this long between polls, and 10 ms more per peer (ms). */
const MESH_POLL = 250
const MESH_POLL_PER_PEER = 10
/** Bootstrap peers a restarted or new peer is given. */
const BOOTSTRAP_PEERS = 3
/** How long a replica hand-over of a churn peer may take (ms). */
const LEAVE_TIMEOUT = 30_000

export type FleetOptions = Pick<ChurnOptions, 'peers' | 'checkInterval' | 'gracePeriod' | 'hosts' | 'log'>

/**
 * The churn run's daemons: each with a repo of its own (one replication
 * group for all), on its own loopback address or lab host, started,
 * restarted on the same repo and port, or replaced by a brand-new peer.
 */
export class Fleet {
  readonly peers: PeerProcess[] = []
  /** The lab hosts the peers run on, with `hosts`. */
  lab?: HostLab
  private readonly o: FleetOptions
  private readonly dir: string
  private readonly random: Random
  private readonly signal: AbortSignal
  private groupKey = ''
  private counter = 0

  constructor (dir: string, options: FleetOptions, random: Random, signal: AbortSignal) {
    this.dir = dir
    this.o = options
    this.random = random
    this.signal = signal
  }

  /** The group key, and the lab when the peers run on hosts of their own. */
  async prepare (): Promise<void> {
    // every peer is in one replication group: they keep each other's copies
    this.groupKey = path.join(this.dir, 'group.key')
    await fs.writeFile(this.groupKey, newGroupKey(), { mode: 0o600 })
    if (this.o.hosts != null) this.lab = await HostLab.create({ hosts: 0 })
  }

  live (): PeerProcess[] {
    return this.peers.filter(p => p.isUp)
  }

  downCount (): number {
    return this.peers.filter(p => p.state === 'down' || p.state === 'stopping').length
  }

  /** A peer with a new repo (new identity) on its own loopback address, or its own lab host. */
  async add (bootstrap: string[]): Promise<PeerProcess> {
    const i = this.counter++
    const name = `peer-${String(i).padStart(2, '0')}`
    const repo = path.join(this.dir, name)
    const config = defaultConfig()
    config.replication = {
      ...config.replication,
      checkInterval: Math.round(this.o.checkInterval * 1000),
      probeTimeout: Math.round(Math.max(this.o.checkInterval * 2, 2) * 1000),
      gracePeriod: Math.round(this.o.gracePeriod * 1000),
      leaveTimeout: LEAVE_TIMEOUT,
      groupKeyFile: this.groupKey
    }
    await initRepo(repo, config)
    const peer = new PeerProcess(name, repo, await this.place(i), path.join(this.dir, `${name}.log`))
    this.peers.push(peer)
    await peer.start(bootstrap, this.signal)
    return peer
  }

  /** Start a stopped peer again on its repo (its old port if it is free). */
  async restart (peer: PeerProcess): Promise<void> {
    try {
      await peer.start(this.bootstrapFor(peer), this.signal)
    } catch (err: any) {
      if (this.signal.aborted) throw err
      // the old port may be taken: take any
      peer.port = 0
      await peer.start(this.bootstrapFor(peer), this.signal)
    }
  }

  /** A few live peers' addresses for `peer` (or a new peer) to join through. */
  bootstrapFor (peer?: PeerProcess): string[] {
    const others = this.live().filter(p => p !== peer)
    const chosen: string[] = []
    for (let i = 0; i < BOOTSTRAP_PEERS && others.length > 0; i++) {
      const [p] = others.splice(this.random.int(others.length), 1)
      chosen.push(...p.addresses)
    }
    return chosen
  }

  /** Let the DHT fill in: every peer connected to several others (bounded wait). */
  async waitForMesh (): Promise<void> {
    const want = Math.min(this.o.peers - 1, MESH_PEERS)
    const deadline = Date.now() + MESH_TIMEOUT
    while (Date.now() < deadline) {
      const counts = await Promise.all(this.live().map(async p => {
        const { peers } = await p.client.json('GET', '/v1/peers', undefined, this.signal)
        return peers.length as number
      }))
      if (counts.every(c => c >= want)) return
      await sleep(MESH_POLL + MESH_POLL_PER_PEER * this.peers.length, this.signal)
    }
    this.o.log('some peers are still poorly connected; going on')
  }

  /** Kill every daemon at once, synchronously (the process is exiting). */
  killNow (): void {
    for (const p of this.peers) p.killNow()
  }

  /** Kill every daemon and take the lab down. */
  async destroy (): Promise<void> {
    await Promise.all(this.peers.map(async p => { await p.kill().catch(() => {}); p.closeLog() }))
    await this.lab?.destroy()
  }

  private async place (i: number): Promise<PeerPlacement> {
    const lab = this.lab
    if (lab == null) return { host: `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}` }
    const host = await lab.addHost({ rate: this.o.hosts?.rate, loss: this.o.hosts?.loss })
    // a host of its own: all interfaces, the usual port, and the address others reach it by
    return { host: '0.0.0.0', port: DEFAULT_PORT, labHost: host.index, launch: (cmd, args, options) => lab.spawn(host.index, cmd, args, options) }
  }
}
