import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { ShoalNode } from '../../src/node/shoal-node.js'
import { newGroupKey } from '../../src/replication/group.js'
import { defaultConfig } from '../../src/config/schema.js'
import { initRepo } from '../../src/config/file.js'
import { loopbackHost, tempDir } from './cli.js'
import type { ShoalConfig } from '../../src/config/schema.js'

/**
 * Real Shoal nodes in this process, each with its own repo and loopback
 * address, ports from the OS, all in one replication group (unless a
 * config names another key, or `outsider` is set). `stopAll` stops them and
 * removes the repos.
 */
export class TestSwarm {
  readonly nodes: ShoalNode[] = []
  private dir?: string
  private groupKeyFile?: string
  private readonly configs = new Map<string, Partial<ShoalConfig>>()

  async start (config: Partial<ShoalConfig> = {}, options: { bootstrapTo?: ShoalNode[], outsider?: boolean } = {}): Promise<ShoalNode> {
    this.dir ??= await tempDir('shoal-swarm-')
    const root = path.join(this.dir, `peer-${this.nodes.length}`)
    await initRepo(root)
    const bootstrap = (options.bootstrapTo ?? this.nodes.slice(-1)).flatMap(n => n.addresses())
    const replication = { ...defaultConfig().replication, ...config.replication }
    if (replication.groupKeyFile === '' && options.outsider !== true) replication.groupKeyFile = await this.groupKey()
    const node = await ShoalNode.open(root, {
      config: {
        listen: [`/ip4/${loopbackHost()}/tcp/0`],
        bootstrap,
        ...config,
        replication,
        limits: { ...defaultConfig().limits, ...config.limits }
      }
    })
    await node.start()
    this.nodes.push(node)
    this.configs.set(root, { ...config, replication })
    return node
  }

  /** The swarm's replication group key file (made on first use). */
  async groupKey (): Promise<string> {
    this.dir ??= await tempDir('shoal-swarm-')
    if (this.groupKeyFile == null) {
      this.groupKeyFile = path.join(this.dir, 'group.key')
      await fs.writeFile(this.groupKeyFile, newGroupKey(), { mode: 0o600 })
    }
    return this.groupKeyFile
  }

  /** Stop a node as a crash would look to its peers: no hand-over, no goodbye. */
  async kill (node: ShoalNode): Promise<void> {
    const i = this.nodes.indexOf(node)
    if (i >= 0) this.nodes.splice(i, 1)
    await node.stop()
  }

  /** Start a stopped node again on its repo (same identity, new port), joining through the running ones. */
  async restart (node: ShoalNode): Promise<ShoalNode> {
    const root = node.repo.root
    const config = this.configs.get(root) ?? {}
    const again = await ShoalNode.open(root, {
      config: {
        listen: [`/ip4/${loopbackHost()}/tcp/0`],
        bootstrap: this.nodes.flatMap(n => n.addresses()),
        ...config,
        limits: { ...defaultConfig().limits, ...config.limits }
      }
    })
    await again.start()
    this.nodes.push(again)
    return again
  }

  async stopAll (): Promise<void> {
    await Promise.all(this.nodes.map(async n => { await n.stop().catch(() => {}) }))
    this.nodes.length = 0
    if (this.dir != null) await fs.rm(this.dir, { recursive: true, force: true })
    this.dir = undefined
    this.groupKeyFile = undefined
  }

  async writeRandomFile (name: string, size: number): Promise<string> {
    this.dir ??= await tempDir('shoal-swarm-')
    const file = path.join(this.dir, name)
    await fs.writeFile(file, randomBytes(size))
    return file
  }

  outputPath (name: string): string {
    if (this.dir == null) throw new Error('no swarm directory yet')
    return path.join(this.dir, name)
  }
}

/** Resolves once `node` has at least `n` peers in its DHT routing table (on the table's own events); `dht` names the service (Shoal's or the IPFS DHT). */
export async function routingTableHas (node: ShoalNode, n: number, timeout = 20_000, dht: 'dht' | 'ipfsDht' = 'dht'): Promise<void> {
  const table = (node.libp2p.services[dht] as any).routingTable
  if (table.size >= n) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      table.removeEventListener('peer:add', onAdd)
      reject(new Error(`routing table has ${table.size} peers, wanted ${n}`))
    }, timeout)
    function onAdd (): void {
      if (table.size < n) return
      clearTimeout(timer)
      table.removeEventListener('peer:add', onAdd)
      resolve()
    }
    table.addEventListener('peer:add', onAdd)
  })
}
