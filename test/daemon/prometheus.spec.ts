import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { shoalOk, useDaemons } from '../helpers/cli.js'
import type { DaemonProcess } from '../helpers/cli.js'
import type { ChildProcess } from 'node:child_process'

const PROMETHEUS = '/usr/bin/prometheus'
const DASHBOARD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../contrib/grafana/shoal.json')
const MiB = 1024 * 1024

/** A TCP port the OS says is free now (Prometheus cannot be told to take port 0 and say which it got). */
async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** The dashboard's Grafana variables, as a person looking at the last few minutes of every daemon would set them. */
function withVariables (expr: string): string {
  return expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '30s').replaceAll('$__range', '5m')
}

/** A real Prometheus (Debian's package) scraping `targets` every second. */
class Prometheus {
  readonly url: string
  private readonly child: ChildProcess
  log = ''

  private constructor (url: string, child: ChildProcess) {
    this.url = url
    this.child = child
    child.stderr!.on('data', d => { this.log += d })
  }

  static async start (dir: string, targets: string[]): Promise<Prometheus> {
    await fs.access(PROMETHEUS).catch(() => { throw new Error(`${PROMETHEUS} is missing: apt-get install prometheus (.ci/run does)`) })
    const config = path.join(dir, 'prometheus.yml')
    await fs.writeFile(config, [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: shoal',
      '    static_configs:',
      `      - targets: [${targets.map(t => `'${t}'`).join(', ')}]`
    ].join('\n') + '\n')
    const port = await freePort()
    const child = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] })
    const p = new Prometheus(`http://127.0.0.1:${port}`, child)
    await p.until('Prometheus to be ready', async () => (await fetch(`${p.url}/-/ready`).catch(() => undefined))?.ok === true ? true : undefined)
    return p
  }

  /** An instant query's result vector. */
  async query (expr: string): Promise<Array<{ metric: Record<string, string>, value: [number, string] }>> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`)
    const body = await res.json() as any
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error as string}`)
    return body.data.result
  }

  /** The sum of an expression's values (0 when it has no series). */
  async sum (expr: string): Promise<number> {
    return (await this.query(expr)).reduce((n, r) => n + Number(r.value[1]), 0)
  }

  /** Poll (Prometheus scrapes every second; there is no event to wait on) until `check` gives a value. */
  async until<T> (what: string, check: () => Promise<T | undefined>, timeout = 60_000): Promise<T> {
    const deadline = Date.now() + timeout
    while (Date.now() < deadline) {
      const v = await check()
      if (v !== undefined) return v
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    throw new Error(`waited ${timeout} ms for ${what}; Prometheus said:\n${this.log.slice(-2000)}`)
  }

  async stop (): Promise<void> {
    if (this.child.exitCode != null) return
    const exited = new Promise(resolve => this.child.once('exit', resolve))
    this.child.kill('SIGTERM')
    await exited
  }
}

describe('daemon: metrics, scraped by a real Prometheus', function () {
  this.timeout(180_000)
  const scope = useDaemons()
  const daemons: DaemonProcess[] = []
  let prometheus: Prometheus | undefined

  after(async () => { await prometheus?.stop() })

  it('serves /metrics and /healthz on loopback; four daemons are up in Prometheus, and the counters move with an add, a get and a repair', async () => {
    const key = path.join(scope.dir, 'group.key')
    await fs.writeFile(key, (await shoalOk(['group-key'])).stdout, { mode: 0o600 })
    const args = ['--group-key', key, '--check-interval', '0.5', '--grace-period', '2', '--metrics', '/ip4/127.0.0.1/tcp/0']
    daemons.push(await scope.start('a', args))
    for (const name of ['b', 'c']) daemons.push(await scope.start(name, [...args, '--bootstrap', daemons[0].addresses[0]]))
    // the getter is outside the group: a peer that already holds the file would take a repair's
    // copy without moving a byte, and which peers hold what follows their random ids
    const getter = await scope.start('getter', ['--metrics', '/ip4/127.0.0.1/tcp/0', '--bootstrap', daemons[0].addresses[0]])

    // the endpoint itself: the text format with help lines, a health check, nothing else
    const text = await (await fetch(`${daemons[0].metricsUrl}/metrics`)).text()
    assert.match(text, /# HELP shoal_block_bytes_total /)
    assert.match(text, /# HELP shoal_replicated_roots /)
    assert.match(text, /^libp2p_connection_manager_connections\{/m, 'libp2p\'s own metrics are there too')
    const health = await fetch(`${daemons[0].metricsUrl}/healthz`)
    assert.equal(health.status, 200)
    assert.equal((await health.json() as any).status, 'ok')
    assert.equal((await fetch(`${daemons[0].metricsUrl}/anything`)).status, 404)
    assert.equal((await fetch(`${daemons[0].metricsUrl}/metrics`, { method: 'POST' })).status, 405)

    prometheus = await Prometheus.start(scope.dir, [...daemons, getter].map(d => new URL(d.metricsUrl).host))
    const p = prometheus
    await p.until('every target up', async () => (await p.sum('up{job="shoal"}')) === 4 ? true : undefined)

    // add with K = 2 (three peers in the group: one is left to repair onto), and a get by the fourth
    const input = path.join(scope.dir, 'input')
    await fs.writeFile(input, randomBytes(4 * MiB))
    const { cid } = JSON.parse((await shoalOk(['add', input, '--replicas', '2', '--json', '--repo', daemons[0].repo])).stdout)
    await shoalOk(['get', cid, '-o', path.join(scope.dir, 'out'), '--repo', getter.repo])
    const ok = await p.until('a complete replica set seen by Prometheus', async () => {
      const s = JSON.parse((await shoalOk(['status', cid, '--json', '--repo', daemons[0].repo])).stdout)
      return s.health === 'ok' && s.copies === 2 && s.holders.length === 2 ? s : undefined
    })
    await p.until('bytes sent and a get counted', async () =>
      (await p.sum('shoal_block_bytes_total{direction="sent"}')) >= 4 * MiB &&
      (await p.sum('shoal_download_duration_seconds_count{purpose="get",outcome="ok"}')) >= 1 &&
      (await p.sum('shoal_routing_duration_seconds_count{op="provide",outcome="ok"}')) >= 1 &&
      (await p.sum('shoal_roots_pinned')) >= 2
        ? true
        : undefined)

    // kill a holder: the other repairs onto the peer left, and Prometheus sees it happen
    const victim = daemons.find(d => ok.holders.some((h: any) => h.peer === d.peerId) && d.peerId !== ok.leader)!
    await victim.kill('SIGKILL')
    await p.until('the killed holder down', async () => (await p.sum('up{job="shoal"}')) === 3 ? true : undefined)
    await p.until('a replica root seen below K', async () => (await p.sum('shoal_replicated_roots{health!="ok"}')) >= 1 ? true : undefined, 30_000)
    await p.until('a repair started and finished, with its bytes', async () =>
      (await p.sum('shoal_repairs_started_total')) >= 1 &&
      (await p.sum('shoal_repairs_finished_total')) >= 1 &&
      (await p.sum('shoal_repair_duration_seconds_count')) >= 1 &&
      (await p.sum('shoal_download_bytes_total{purpose="replica"}')) >= 4 * MiB &&
      (await p.sum('shoal_replicated_roots{health="ok"}')) >= 1
        ? true
        : undefined, 90_000)

    // bounded cardinality: no label holds a CID or another peer's id (shoal_info names the daemon itself)
    const series = await (await fetch(`${p.url}/api/v1/series?match[]=${encodeURIComponent('{__name__=~"shoal_.+"}')}`)).json() as any
    for (const s of series.data as Array<Record<string, string>>) {
      if (s.__name__ === 'shoal_info') continue
      for (const [label, value] of Object.entries(s)) {
        assert.doesNotMatch(value, /^(bafy|Qm|12D3Koo)/, `${s.__name__} has ${label}=${value}`)
      }
    }

    // every panel of the Grafana dashboard answers with at least one series
    const dashboard = JSON.parse(await fs.readFile(DASHBOARD, 'utf8'))
    const targets = dashboard.panels.flatMap((panel: any) => panel.targets.map((t: any) => ({ title: panel.title as string, expr: t.expr as string })))
    assert.ok(targets.length >= 15, `the dashboard has ${targets.length as number} queries`)
    const empty: string[] = []
    const answers: string[] = []
    for (const t of targets) {
      const result = await p.query(withVariables(t.expr))
      if (result.length === 0) empty.push(`${t.title}: ${t.expr}`)
      const shown = result.slice(0, 4).map(r => `${Object.entries(r.metric).filter(([k]) => k !== 'job').map(([k, v]) => `${k}=${v}`).join(',') || '()'} ${Number(r.value[1]).toPrecision(3)}`)
      answers.push(`        ${t.title}: ${shown.join('; ')}${result.length > 4 ? ` (+${result.length - 4})` : ''}`)
    }
    // for the record (docs/monitoring.md shows such a run): what each panel would draw now
    console.log(`      the dashboard's queries, answered:\n${answers.join('\n')}`)
    assert.deepEqual(empty, [], 'every dashboard query returns a series')
  })
})
