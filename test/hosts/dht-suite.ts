import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { dhtFigures, parseMetrics, since } from '../../src/churn/dht-figures.js'
import { ApiClient } from '../../src/client/api-client.js'
import { runLimited as pool } from '../../src/churn/limit.js'
import { HostLab } from '../../src/lab/host-lab.js'
import { DaemonProcess, SHOAL_BIN, shoalOk, tempDir } from '../helpers/cli.js'
import type { DhtFigures, PromSample } from '../../src/churn/dht-figures.js'

// a host per daemon: libp2p limits inbound connections per address, and a bootstrap peer would
// refuse the fifth of ten daemons behind one address coming at once (measured: ten per host left
// 40 of 100 daemons with empty routing tables)
/** Peers the others bootstrap from. */
const SEEDS = 3
const START_CONCURRENCY = 2
const LOOKUPS_PER_FILE = 3
const KILL_SHARE = 0.2
const PORT = 4401
const METRICS_PORT = 9401

/** CPU seconds (user + system) a process has used, from /proc. */
async function cpuSeconds (pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function rssMiB (pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const ms = (v?: number): string => v == null ? '–' : `${Math.round(v * 1000)} ms`

function findLine (label: string, d: DhtFigures): string {
  return `${label}: find ${d.find.ok} found / ${d.find.ok + d.find.empty + d.find.failed} lookups in the daemons (success ${((d.find.successRate ?? 0) * 100).toFixed(1)} %), first provider p50 ${ms(d.find.p50)}, p95 ${ms(d.find.p95)}; DHT messages ${d.messagesPerPeerPerSecond.inbound} in / ${d.messagesPerPeerPerSecond.outbound} out per peer per second`
}

/**
 * The DHT at a size where Kademlia's routing matters: HOSTS × PER_HOST
 * daemons (100 by default) on lab hosts, the DHT's bucket size at its
 * default of 20, so no peer knows every other and lookups take several
 * hops. Provide and find-providers latency and success, before and after a
 * fifth of the peers are killed; idle memory and CPU per daemon. Figures
 * are printed (the README and the closing note quote them); the assertions
 * are what must hold at any speed. `npm run test:scale` (root) runs it
 * with 100 daemons; `npm run test:hosts` with 30.
 */
export interface DhtSuiteOptions {
  hosts: number
  /** Daemons per host. */
  perHost?: number
  /** Files added, each on a random peer. */
  files: number
}

export function dhtSuite ({ hosts: HOSTS, perHost: PER_HOST = 1, files: FILES }: DhtSuiteOptions): void {
  describe(`the DHT with ${HOSTS * PER_HOST} peers on lab hosts`, function () {
    this.timeout(1_800_000)
    let lab: HostLab
    let dir: string
    const daemons: Array<{ d: DaemonProcess, host: number, slot: number }> = []

    before(async () => {
      dir = await tempDir('shoal-scale-')
      lab = await HostLab.create({ hosts: HOSTS })
    })

    after(async () => {
      await Promise.all(daemons.map(async ({ d }) => await d.kill('SIGKILL')))
      await lab?.destroy()
      await fs.rm(dir, { recursive: true, force: true })
    })

    async function start (host: number, slot: number, bootstrap: string[]): Promise<DaemonProcess> {
      const repo = path.join(dir, `h${host}-${slot}`)
      const d = new DaemonProcess(repo, ['--listen', `/ip4/0.0.0.0/tcp/${PORT + slot}`, '--metrics', `/ip4/127.0.0.1/tcp/${METRICS_PORT + slot}`, '--webui', '', ...bootstrap.flatMap(b => ['--bootstrap', b])],
        {}, SHOAL_BIN, (cmd, a, options) => lab.spawn(host, cmd, a, options))
      daemons.push({ d, host, slot })
      await d.ready
      return d
    }

    /** Every live daemon's metrics (read inside its host: they listen on its loopback). */
    async function metrics (of = daemons): Promise<Map<DaemonProcess, PromSample[]>> {
      const read = await pool(10, of.map(({ d, host }) => async () => {
        const text = await lab.exec(host, 'curl', ['-sf', '--max-time', '10', `${d.metricsUrl}/metrics`]).catch(() => undefined)
        return [d, text == null ? undefined : parseMetrics(text)] as const
      }))
      return new Map(read.filter((r): r is readonly [DaemonProcess, PromSample[]] => r[1] != null))
    }

    /** Every live daemon's routing-table size, through its control socket (a file: no namespace to enter, no process to start). */
    async function routingTables (): Promise<number[]> {
      return await pool(10, daemons.map(({ d }) => async () =>
        (await new ApiClient(d.repo).json('GET', '/v1/stat').catch(() => ({ dhtPeers: 0 }))).dhtPeers as number))
    }

    async function lookups (files: Array<{ cid: string, holder: DaemonProcess }>, askers: DaemonProcess[]): Promise<{ ok: number, all: number }> {
      const jobs = files.flatMap(f => {
        const others = askers.filter(a => a !== f.holder).sort(() => Math.random() - 0.5).slice(0, LOOKUPS_PER_FILE)
        return others.map(asker => async () => {
          const r = await new ApiClient(asker.repo).json('POST', '/v1/providers', { cid: f.cid, timeout: 30_000 }).catch(() => ({ providers: [] }))
          return r.providers.some((p: any) => p.peerId === f.holder.peerId) as boolean
        })
      })
      const found = await pool(6, jobs)
      return { ok: found.filter(Boolean).length, all: found.length }
    }

    it(`provide and find-providers among ${HOSTS * PER_HOST} peers, before and after ${KILL_SHARE * 100} % of them are killed`, async () => {
      const t0 = Date.now()
      const slots = Array.from({ length: HOSTS * PER_HOST }, (_, i) => ({ host: (i % HOSTS) + 1, slot: Math.floor(i / HOSTS) }))
      const first = await start(slots[0].host, slots[0].slot, [])
      const seeds = [first.addresses[0]]
      for (const { host, slot } of slots.slice(1, SEEDS)) seeds.push((await start(host, slot, [first.addresses[0]])).addresses[0])
      // two at a time: a 2-core machine starting eight at once ran at a load of 80, and the peers
      // that joined late could not finish a dial or a ping (their routing tables stayed near empty)
      await pool(START_CONCURRENCY, slots.slice(SEEDS).map(({ host, slot }) => async () => await start(host, slot, seeds)))
      const startSeconds = (Date.now() - t0) / 1000

      // the routing tables fill through bootstrap and the DHT's own self-queries
      let tables: number[] = []
      const deadline = Date.now() + 300_000
      while (Date.now() < deadline) {
        tables = await routingTables()
        if (Math.min(...tables) >= 10) break
        console.log(`      routing tables after ${((Date.now() - t0) / 1000).toFixed(0)} s: min ${Math.min(...tables)}, median ${median(tables)}, ${tables.filter(n => n < 10).length} under 10`)
        await new Promise(resolve => setTimeout(resolve, 10_000))
      }
      assert.ok(Math.min(...tables) >= 10, `every routing table has 10 peers or more: ${tables.join(' ')}`)
      // with buckets of 20, routing takes several hops only where tables cannot hold everyone
      if (daemons.length > 60) assert.ok(median(tables) < daemons.length - 1, `with buckets of 20, a peer does not know every other (median routing table ${median(tables)} of ${daemons.length - 1})`)

      // idle: memory and CPU per daemon over 30 s with nothing to do but keep the DHT
      const pids = daemons.map(({ d }) => d.child.pid!)
      const cpu0 = await Promise.all(pids.map(cpuSeconds))
      const idleFrom = Date.now()
      await new Promise(resolve => setTimeout(resolve, 30_000))
      const cpu1 = await Promise.all(pids.map(cpuSeconds))
      const idleSeconds = (Date.now() - idleFrom) / 1000
      const cpuShare = cpu1.map((c, i) => (c - cpu0[i]) / idleSeconds * 100)
      const rss = await Promise.all(pids.map(rssMiB))

      // FILES files, each added on a random peer (added, then provided in the background)
      const files: Array<{ cid: string, holder: DaemonProcess }> = []
      const holders = [...daemons].sort(() => Math.random() - 0.5).slice(0, FILES).map(x => x.d)
      await pool(5, holders.map((holder, i) => async () => {
        const file = path.join(dir, `file-${i}`)
        await fs.writeFile(file, randomBytes(64 * 1024))
        files.push({ cid: JSON.parse((await shoalOk(['add', file, '--json', '--repo', holder.repo])).stdout).cid, holder })
      }))
      const before = await metrics()
      // the provides are done when the adders' counters say so
      const provided = async (): Promise<number> => [...(await metrics(daemons.filter(x => holders.includes(x.d)))).values()].flat()
        .filter(s => s.name === 'shoal_routing_duration_seconds_count' && s.labels.op === 'provide' && s.labels.dht === 'shoal').reduce((n, s) => n + s.value, 0)
      const provideDeadline = Date.now() + 300_000
      while ((await provided()) < FILES && Date.now() < provideDeadline) await new Promise(resolve => setTimeout(resolve, 2_000))

      const p1 = Date.now()
      const phase1 = await lookups(files, daemons.map(x => x.d))
      const after1 = await metrics()
      const figures1 = dhtFigures([...after1].map(([d, s]) => since(before.get(d) ?? [], s)), Date.now() / 1000, (Date.now() - p1) / 1000)
      const provides = dhtFigures([...after1.values()], Date.now() / 1000).provide

      // a fifth of the peers killed (not the holders of the files: their records must still lead somewhere)
      const victims = daemons.filter(x => !holders.includes(x.d) && x.d !== first).sort(() => Math.random() - 0.5).slice(0, Math.round(daemons.length * KILL_SHARE))
      await Promise.all(victims.map(async ({ d }) => await d.kill('SIGKILL')))
      const live = daemons.filter(x => !victims.includes(x))
      const before2 = await metrics(live)
      const p2 = Date.now()
      const phase2 = await lookups(files, live.map(x => x.d))
      const figures2 = dhtFigures([...(await metrics(live))].map(([d, s]) => since(before2.get(d) ?? [], s)), Date.now() / 1000, (Date.now() - p2) / 1000)

      console.log([
      `      ${daemons.length} daemons on ${HOSTS} hosts, started in ${startSeconds.toFixed(0)} s; routing tables min ${Math.min(...tables)}, median ${median(tables)}, max ${Math.max(...tables)} (bucket size 20)`,
      `      idle, per daemon: RSS median ${median(rss).toFixed(0)} MiB (max ${Math.max(...rss).toFixed(0)}); CPU median ${median(cpuShare).toFixed(2)} % of a core (max ${Math.max(...cpuShare).toFixed(2)} %) over ${idleSeconds.toFixed(0)} s`,
      `      provides of ${FILES} files: ${provides.ok} ok, ${provides.failed} failed; p50 ${ms(provides.p50)}, p95 ${ms(provides.p95)}`,
      `      lookups (shoal providers, 30 s): ${phase1.ok} of ${phase1.all} named the holder with every peer up; ${phase2.ok} of ${phase2.all} with ${victims.length} peers killed`,
      `      ${findLine('all up', figures1)}`,
      `      ${findLine(`${victims.length} killed`, figures2)}`
      ].join('\n'))
      assert.ok(phase1.ok / phase1.all >= 0.9, `lookups with every peer up: ${phase1.ok} of ${phase1.all}`)
      assert.ok(phase2.ok / phase2.all >= 0.8, `lookups with ${victims.length} peers killed: ${phase2.ok} of ${phase2.all}`)
    })
  })
}
