import { createRequire } from 'node:module'
import { Counter, Gauge, Histogram } from 'prom-client'
import { BITSWAP_PROTOCOLS, BLOCK_PROTOCOL } from '../protocol/constants.js'
import type { Registry } from 'prom-client'
import type { ShoalNode } from '../node/shoal-node.js'
import type { HandOverResult } from '../replication/hand-over.js'

/** Histogram buckets (seconds) of a download, from a block to a large file over a slow swarm. */
const DOWNLOAD_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900]
/** Of a DHT provide or lookup: the public DHT finds in ~0.6 s and provides in 6–13 s. */
const ROUTING_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
/** Of a repair: detection + grace period + settling + the download. */
const REPAIR_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800]

const HEALTHS = ['ok', 'under-replicated', 'repairing', 'lost'] as const

/**
 * Shoal's own Prometheus metrics (`shoal_` prefix), on the registry that
 * libp2p's metrics (`@libp2p/prometheus-metrics`) share. What the node
 * counts anyway (the ledger, bans, gc, store size, peers) is read when
 * Prometheus scrapes; what happens once (a download ends, a DHT query, a
 * repair) is observed from the node's events. No label grows with the
 * swarm or the content: labels are protocols, directions, purposes,
 * outcomes and health words, never peers or CIDs.
 */
export class ShoalMetrics {
  readonly registry: Registry
  private readonly node: ShoalNode
  private readonly off: Array<() => void> = []
  private readonly handovers: Counter<'role'>

  constructor (node: ShoalNode, registry: Registry) {
    this.node = node
    this.registry = registry
    const registers = [registry]
    const { exchange, libp2p } = node

    new Gauge({ name: 'shoal_info', help: 'This daemon: its peer id and version (always 1)', labelNames: ['peer_id', 'version'], registers })
      .set({ peer_id: node.peerId.toString(), version: packageVersion() }, 1)

    // blocks moved, by block protocol and direction (read from the ledger at each scrape)
    const spoken = [BLOCK_PROTOCOL, ...(node.config.bitswap ? [BITSWAP_PROTOCOLS[0]] : [])]
    const byProtocol = (name: string, help: string, value: (t: { bytesSent: number, blocksSent: number, bytesReceived: number, blocksReceived: number }, dir: 'sent' | 'received') => number): void => {
      // eslint-disable-next-line no-new
      new Counter({
        name,
        help,
        labelNames: ['protocol', 'direction'],
        registers,
        collect () {
          this.reset()
          // the block protocols spoken are there before their first block
          for (const protocol of spoken) {
            const tally = exchange.ledger.byProtocol.get(protocol) ?? { bytesSent: 0, blocksSent: 0, bytesReceived: 0, blocksReceived: 0 }
            for (const direction of ['sent', 'received'] as const) this.inc({ protocol, direction }, value(tally, direction))
          }
        }
      })
    }
    byProtocol('shoal_block_bytes_total', 'Bytes of verified blocks sent to and received from peers, by block protocol', (t, d) => d === 'sent' ? t.bytesSent : t.bytesReceived)
    byProtocol('shoal_blocks_total', 'Verified blocks sent to and received from peers, by block protocol', (t, d) => d === 'sent' ? t.blocksSent : t.blocksReceived)

    const downloads = new Histogram({ name: 'shoal_download_duration_seconds', help: 'How long downloads took, by purpose (get, replica, read) and outcome (ok, failed, aborted)', labelNames: ['purpose', 'outcome'], buckets: DOWNLOAD_BUCKETS, registers })
    const downloadBytes = new Counter({ name: 'shoal_download_bytes_total', help: 'Bytes fetched by downloads that ended, by purpose (replica: repair traffic)', labelNames: ['purpose'], registers })
    const duplicates = new Counter({ name: 'shoal_duplicate_blocks_total', help: 'Blocks that arrived after another peer\'s copy of them (endgame duplicates), counted when their download ends', registers })
    // every label set there can be is there from the first scrape: a rate() over a series that
    // appeared at the last scrape has one sample and answers nothing
    for (const purpose of ['get', 'replica', 'read']) {
      downloadBytes.inc({ purpose }, 0)
      for (const outcome of ['ok', 'failed', 'aborted']) downloads.zero({ purpose, outcome })
    }
    this.on(exchange, 'download:end', (d: { purpose: string, outcome: string, seconds: number, bytes: number, duplicateBlocks: number }) => {
      downloads.observe({ purpose: d.purpose, outcome: d.outcome }, d.seconds)
      downloadBytes.inc({ purpose: d.purpose }, d.bytes)
      duplicates.inc(d.duplicateBlocks)
    })
    const gauge = (name: string, help: string, value: () => number | Promise<number>): void => {
      // eslint-disable-next-line no-new
      new Gauge({ name, help, registers, async collect () { this.set(await value()) } })
    }
    gauge('shoal_downloads_active', 'Downloads running (gets, replicas, reads)', () => exchange.activeDownloads)
    gauge('shoal_uploads_active', 'Blocks being read and sent to peers right now', () => exchange.activeUploads)
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'shoal_block_requests_in_flight',
      help: 'Block requests waiting for an answer: peers\' requests queued with us (inbound), ours sent to peers (outbound)',
      labelNames: ['direction'],
      registers,
      collect () {
        const { inbound, outbound } = exchange.requestsInFlight()
        this.set({ direction: 'inbound' }, inbound)
        this.set({ direction: 'outbound' }, outbound)
      }
    })
    gauge('shoal_peers_connected', 'Peers with an open connection', () => libp2p.getPeers().length)

    const routing = new Histogram({ name: 'shoal_routing_duration_seconds', help: 'DHT operations: provides (to stored) and provider lookups (to the first provider found, or to the end when none was), by DHT and outcome (ok, empty, error)', labelNames: ['op', 'dht', 'outcome'], buckets: ROUTING_BUCKETS, registers })
    for (const dht of ['shoal', ...(node.config.ipfsDht ? ['ipfs'] : [])]) {
      for (const outcome of ['ok', 'error']) routing.zero({ op: 'provide', dht, outcome })
      for (const outcome of ['ok', 'empty', 'error']) routing.zero({ op: 'find', dht, outcome })
    }
    this.on(node.routingEvents, 'query', (q: { op: string, dht: string, outcome: string, seconds: number }) => {
      routing.observe({ op: q.op, dht: q.dht, outcome: q.outcome }, q.seconds)
    })

    this.storeGauges(registers)
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'shoal_replicated_roots',
      help: 'Replicated roots this peer knows of, by health (ok: K complete copies live)',
      labelNames: ['health'],
      registers,
      collect () {
        const counts = new Map<string, number>(HEALTHS.map(h => [h, 0]))
        for (const r of node.replicaList()) counts.set(r.health, (counts.get(r.health) ?? 0) + 1)
        for (const [health, n] of counts) this.set({ health }, n)
      }
    })
    this.replicationCounters(registers)
    this.handovers = new Counter({ name: 'shoal_handovers_total', help: 'Graceful leaves: copies this peer handed over before stopping (leaving), holders that left us after handing over (holder)', labelNames: ['role'], registers })
    this.handovers.inc({ role: 'leaving' }, 0)
    this.on(node.replicaEvents, 'holder:left', () => { this.handovers.inc({ role: 'holder' }) })

    const totals = <K extends string>(name: string, help: string, label: string, read: () => Record<K, number>): void => {
      // eslint-disable-next-line no-new
      new Counter({
        name,
        help,
        labelNames: [label],
        registers,
        collect () {
          this.reset()
          for (const [key, n] of Object.entries<number>(read())) this.inc({ [label]: key }, n)
        }
      })
    }
    totals('shoal_bans_total', 'Peers banned, by reason (bad-block: a block that failed verification, false-claims: blocks claimed and not served, protocol: repeated wire-protocol violations)', 'reason', () => node.bans.totals)
    totals('shoal_protocol_violations_total', 'Wire-protocol violations by peers: malformed, oversized or truncated messages, floods past a limit, blocks nobody asked for', 'kind', () => node.conduct.totals)
    gauge('shoal_banned_peers', 'Peers banned now', () => node.bans.list().length)
    const gc = (name: string, help: string, read: (t: { runs: number, blocks: number, bytes: number }) => number): void => {
      // eslint-disable-next-line no-new
      new Counter({ name, help, registers, collect () { this.reset(); this.inc(read(node.gcTotals)) } })
    }
    gc('shoal_gc_runs_total', 'Garbage collections run (shoal gc, and after rm)', t => t.runs)
    gc('shoal_gc_freed_bytes_total', 'Bytes of blocks garbage collection deleted', t => t.bytes)
    gc('shoal_gc_freed_blocks_total', 'Blocks garbage collection deleted', t => t.blocks)
  }

  /** A graceful stop handed copies over. */
  handedOver (result: HandOverResult): void {
    this.handovers.inc({ role: 'leaving' }, result.handedOver)
  }

  /** Stop listening to the node. */
  stop (): void {
    for (const f of this.off) f()
    this.off.length = 0
  }

  private storeGauges (registers: Registry[]): void {
    const node = this.node
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'shoal_store_bytes',
      help: 'Bytes of blocks in the repo\'s block store (leaves held by reference are counted in shoal_pinned_bytes, not here)',
      registers,
      collect () { this.set(node.repo.blocks.stats().bytes) }
    })
    // eslint-disable-next-line no-new
    new Gauge({ name: 'shoal_store_blocks', help: 'Blocks in the repo\'s block store', registers, collect () { this.set(node.repo.blocks.stats().blocks) } })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'shoal_storage_bytes',
      help: 'What this peer stores, by part: blocks and packs (the repo, which maxStorage limits), cache (blocks reads stored, about), shared and partial (the user\'s files, outside the repo)',
      labelNames: ['part'],
      registers,
      collect () {
        const use = node.storage.use()
        this.set({ part: 'blocks' }, use.blocks.bytes)
        this.set({ part: 'packs' }, use.packs.bytes)
        this.set({ part: 'cache' }, use.cache)
        this.set({ part: 'shared' }, use.shared.bytes)
        this.set({ part: 'partial' }, use.partial.bytes)
      }
    })
    // eslint-disable-next-line no-new
    new Counter({
      name: 'shoal_shared_leaf_reads_total',
      help: 'Leaves read from files held by reference, by how they were checked: hashed (verified), or trusted as verified before in the same file, unchanged since (trusted)',
      labelNames: ['how'],
      registers,
      collect () {
        const { verified, trusted } = node.repo.refs.reads
        this.reset()
        this.inc({ how: 'verified' }, verified)
        this.inc({ how: 'trusted' }, trusted)
      }
    })
    // eslint-disable-next-line no-new
    new Gauge({ name: 'shoal_storage_limit_bytes', help: 'maxStorage: the bytes the repo may hold (0: no limit)', registers, collect () { this.set(node.storage.use().limit) } })
    const pins = async (): Promise<{ roots: number, bytes: number }> => {
      let roots = 0
      let bytes = 0
      for await (const pin of node.repo.pins.pins()) {
        roots++
        bytes += pin.size
      }
      return { roots, bytes }
    }
    // eslint-disable-next-line no-new
    new Gauge({ name: 'shoal_roots_pinned', help: 'Roots this peer keeps (a user\'s pin, a replica or a download)', registers, async collect () { this.set((await pins()).roots) } })
    // eslint-disable-next-line no-new
    new Gauge({ name: 'shoal_pinned_bytes', help: 'The sizes of the roots this peer keeps, added up', registers, async collect () { this.set((await pins()).bytes) } })
  }

  private replicationCounters (registers: Registry[]): void {
    const events = this.node.replicaEvents
    const count = (name: string, help: string, type: string): void => {
      const c = new Counter({ name, help, registers })
      this.on(events, type, () => { c.inc() })
    }
    count('shoal_repairs_started_total', 'Repairs this peer started as a root\'s leader (placing copies while fewer than K count)', 'repair:start')
    count('shoal_repairs_finished_total', 'Repairs that brought a root back to K complete copies', 'repair:done')
    const repairTime = new Histogram({ name: 'shoal_repair_duration_seconds', help: 'From a repair\'s start to K complete copies again', buckets: REPAIR_BUCKETS, registers })
    this.on(events, 'repair:done', (d: { seconds: number }) => { repairTime.observe(d.seconds) })
    count('shoal_holders_lost_total', 'Holders gone past the grace period (their copies stop counting), per root', 'holder:gone')
    count('shoal_trims_total', 'Surplus copies released as a root\'s leader', 'trim')
    count('shoal_replicas_accepted_total', 'Copies this peer took to keep for the group', 'replica:accepted')
    count('shoal_replicas_declined_total', 'Copies this peer declined to keep (full, not in the group, leaving)', 'replica:declined')
  }

  private on (target: EventTarget, type: string, fn: (detail: any) => void): void {
    const listener = (evt: Event): void => { fn((evt as CustomEvent).detail) }
    target.addEventListener(type, listener)
    this.off.push(() => { target.removeEventListener(type, listener) })
  }
}

/** Shoal's version, from its package.json (dist/src/daemon/ → the package's root). */
function packageVersion (): string {
  try {
    return String(createRequire(import.meta.url)('../../../package.json').version)
  } catch {
    return 'unknown'
  }
}
