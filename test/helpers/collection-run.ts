import fs from 'node:fs/promises'
import path from 'node:path'
import { REPLICA_PROTOCOL } from '../../src/protocol/constants.js'
import { DaemonProcess, shoalOk } from './cli.js'
import { initRepos, seedCollection } from './replica-collection.js'
import type { DaemonScope } from './cli.js'
import type { CID } from 'multiformats/cid'

/** Prometheus text, as a map from `name{labels}` to value. */
async function scrape (url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    values.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return values
}

/** The sum of every series of `name` whose labels contain `match`. */
function sum (values: Map<string, number>, name: string, match = ''): number {
  let total = 0
  for (const [key, v] of values) {
    if ((key === name || key.startsWith(`${name}{`)) && key.includes(match)) total += v
  }
  return total
}

/** CPU seconds a process has used (user + system), from /proc. */
async function cpuSeconds (pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name
  return (Number(fields[11]) + Number(fields[12])) / 100
}

interface Sample {
  at: number
  cpu: number
  metrics: Map<string, number>
}

async function sample (d: DaemonProcess): Promise<Sample> {
  return { at: Date.now(), cpu: await cpuSeconds(d.child.pid!), metrics: await scrape(d.metricsUrl) }
}

export interface PeerFigures {
  peer: string
  /** Replica-protocol bytes this daemon sent and received per round (requests and answers, libp2p's count). */
  bytesSentPerRound: number
  bytesReceivedPerRound: number
  /** Replica requests it sent (pages) per round and entries they carried, from its round trace. */
  requestsPerRound: number
  entriesPerRound: number
  /** Share of one core the daemon used over the window. */
  cpu: number
  violations: number
  bans: number
  repairs: number
  /** Roots it keeps, by health, at the end. */
  health: Record<string, number>
  /** Resident memory at the end (bytes). */
  rss: number
}

export interface CollectionRun {
  roots: CID[]
  daemons: DaemonProcess[]
  /** Round length (ms). */
  checkInterval: number
  seedSeconds: number
  /** From the daemons' start until every one counts every root ok (NaN if they did not within a minute). */
  settleSeconds: number
  /** From the daemons' start until their rounds carry no entries (NaN if they never did within two minutes: a baseline that has no sync). */
  quietSeconds: number
  /** From the daemons' start until they stopped announcing roots in the DHT (with `waitForAnnouncements`). */
  announcedSeconds: number
}

/**
 * Seed `count` replicated roots on `peers` fresh repos (K = peers), start a
 * daemon on each (one group, metrics on, round traces on), and resolve once
 * every daemon counts every root `ok` and their rounds carry no entries
 * (and, with `waitForAnnouncements`, their DHT announcements are over): the
 * steady state `measure` watches.
 */
export async function startCollection (scope: DaemonScope, options: { peers: number, count: number, checkInterval: number, extraArgs?: string[], env?: Record<string, string>, waitForAnnouncements?: boolean }): Promise<CollectionRun> {
  const repos = Array.from({ length: options.peers }, (_, i) => scope.repo(`c${i}`))
  const peerIds = await initRepos(repos)
  const key = path.join(scope.dir, 'collection.key')
  await fs.writeFile(key, (await shoalOk(['group-key'])).stdout, { mode: 0o600 })
  let started = Date.now()
  const roots = await seedCollection(repos, peerIds, options.count)
  const seedSeconds = (Date.now() - started) / 1000
  const args = ['--group-key', key, '--check-interval', String(options.checkInterval / 1000), '--metrics', '/ip4/127.0.0.1/tcp/0', ...(options.extraArgs ?? [])]
  started = Date.now()
  const env = { DEBUG: 'shoal:replica-rounds', ...options.env }
  const daemons = [scope.track(await DaemonProcess.start(repos[0], args, env))]
  for (let i = 1; i < options.peers; i++) daemons.push(scope.track(await DaemonProcess.start(repos[i], [...args, '--bootstrap', daemons[0].addresses[0]], env)))
  const settled = await Promise.all(daemons.map(async d => {
    const deadline = Date.now() + 60_000
    while (sum(await scrape(d.metricsUrl), 'shoal_replicated_roots', 'health="ok"') < options.count) {
      if (Date.now() > deadline) return false
      await new Promise(resolve => setTimeout(resolve, options.checkInterval / 2))
    }
    return true
  }))
  const settleSeconds = settled.every(Boolean) ? (Date.now() - started) / 1000 : NaN
  const run = { roots, daemons, checkInterval: options.checkInterval, seedSeconds, settleSeconds, quietSeconds: NaN, announcedSeconds: NaN }
  // the first rounds send everything (each peer's first sync is a reset, and liveness settles as the peers find each other)
  if (await quiet(run, 3, 120_000)) run.quietSeconds = (Date.now() - started) / 1000
  // a daemon announces every pin in the DHT when it starts: thousands of provides, received by every other peer
  if (options.waitForAnnouncements === true && await announced(run, 900_000)) run.announcedSeconds = (Date.now() - started) / 1000
  return run
}

/** Resolves true once no daemon's count of DHT provides moved for two samples 10 s apart. */
async function announced (run: CollectionRun, timeout: number): Promise<boolean> {
  const deadline = Date.now() + timeout
  const provides = async (): Promise<number[]> => await Promise.all(run.daemons.map(async d => sum(await scrape(d.metricsUrl), 'shoal_routing_duration_seconds_count', 'op="provide"')))
  let last = await provides()
  let still = 0
  while (Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 10_000))
    const now = await provides()
    still = now.every((n, i) => n === last[i]) ? still + 1 : 0
    if (still >= 2) return true
    last = now
  }
  return false
}

/** Resolves true once every daemon's last `rounds` rounds carried no entry (false if not within `timeout`). */
async function quiet (run: CollectionRun, count: number, timeout: number): Promise<boolean> {
  const deadline = Date.now() + timeout
  while (Date.now() < deadline) {
    if (run.daemons.every(d => { const r = rounds(d, 0).slice(-count); return r.length === count && r.every(x => x.entries === 0) })) return true
    await new Promise(resolve => setTimeout(resolve, run.checkInterval))
  }
  return false
}

/** The round trace lines (`DEBUG=shoal:replica-rounds`) a daemon wrote after `offset` of its log. */
function rounds (d: DaemonProcess, offset: number): Array<{ requests: number, entries: number }> {
  const found: Array<{ requests: number, entries: number }> = []
  for (const m of d.log.slice(offset).matchAll(/replica round: \d+ peers?, (\d+) requests?, (\d+) entr/g)) {
    found.push({ requests: Number(m[1]), entries: Number(m[2]) })
  }
  return found
}

/** Watch the running collection for `roundsToWatch` rounds: what each daemon spent and whether anything went wrong. */
export async function measure (run: CollectionRun, roundsToWatch: number): Promise<PeerFigures[]> {
  const before = await Promise.all(run.daemons.map(sample))
  const logAt = run.daemons.map(d => d.log.length)
  await new Promise(resolve => setTimeout(resolve, roundsToWatch * run.checkInterval))
  const after = await Promise.all(run.daemons.map(sample))
  return run.daemons.map((d, i) => {
    const a = before[i]
    const b = after[i]
    const seconds = (b.at - a.at) / 1000
    const perRound = (n: number): number => n / (seconds * 1000 / run.checkInterval)
    const delta = (name: string, match = ''): number => sum(b.metrics, name, match) - sum(a.metrics, name, match)
    const traced = rounds(d, logAt[i])
    const health: Record<string, number> = {}
    for (const h of ['ok', 'under-replicated', 'repairing', 'lost']) health[h] = sum(b.metrics, 'shoal_replicated_roots', `health="${h}"`)
    return {
      peer: d.peerId,
      bytesSentPerRound: perRound(delta('libp2p_data_transfer_bytes_total', `protocol="${REPLICA_PROTOCOL} sent"`)),
      bytesReceivedPerRound: perRound(delta('libp2p_data_transfer_bytes_total', `protocol="${REPLICA_PROTOCOL} received"`)),
      requestsPerRound: traced.length === 0 ? NaN : traced.reduce((n, r) => n + r.requests, 0) / traced.length,
      entriesPerRound: traced.length === 0 ? NaN : traced.reduce((n, r) => n + r.entries, 0) / traced.length,
      cpu: (b.cpu - a.cpu) / seconds,
      violations: sum(b.metrics, 'shoal_protocol_violations_total'),
      bans: sum(b.metrics, 'shoal_bans_total'),
      repairs: sum(b.metrics, 'shoal_repairs_started_total'),
      health,
      rss: sum(b.metrics, 'nodejs_memory_usage_bytes', 'memory="rss"')
    }
  })
}

/** One line per daemon, for the test's output. */
export function describeFigures (figures: PeerFigures[]): string {
  return figures.map(f => `${f.peer.slice(-6)}: ${(f.bytesSentPerRound / 1024).toFixed(1)} KiB sent, ${(f.bytesReceivedPerRound / 1024).toFixed(1)} KiB received, ` +
    `${f.requestsPerRound.toFixed(1)} requests with ${f.entriesPerRound.toFixed(0)} entries per round; CPU ${(f.cpu * 100).toFixed(1)} %, ` +
    `RSS ${(f.rss / 2 ** 20).toFixed(0)} MiB; violations ${f.violations}, bans ${f.bans}, repairs ${f.repairs}, health ${JSON.stringify(f.health)}`).join('\n')
}
