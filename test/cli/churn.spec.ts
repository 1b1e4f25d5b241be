import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { SHOAL_BIN, shoal, tempDir } from '../helpers/cli.js'

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('cli: shoal churn', function () {
  this.timeout(300_000)
  let dir: string

  beforeEach(async () => {
    dir = await tempDir('shoal-churn-test-')
  })

  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('runs 8 peers through 45 s of kills and graceful stops, keeps every file, and reports it', async () => {
    const r = await shoal([
      'churn', '--peers', '8', '--files', '4', '--file-size', '1MiB', '--replicas', '3',
      '--duration', '45', '--interval', '5', '--downtime', '10', '--max-down', '2',
      '--grace-period', '3', '--kill-ratio', '0.5', '--seed', '11', '--dir', dir, '--json', '--quiet'
    ], { timeout: 280_000 })
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout)

    assert.equal(report.lost, 0, 'no file lost')
    assert.equal(report.corrupt, 0, 'no corrupt read')
    assert.ok(report.fetches.ok >= 20, `${report.fetches.ok} fetches succeeded`)
    assert.ok(report.successRate >= 0.95, `success rate ${report.successRate}`)
    assert.ok(report.events.kills >= 1 && report.events.gracefulStops >= 1, JSON.stringify(report.events))
    // downtime (10 s) outlasts the grace period (3 s): some copies were made again
    // on failure, say what happened: who stopped when, and the copies the observer saw each second
    const story = (): string => JSON.stringify({
      repair: report.repair,
      stops: report.events.list.map((e: any) => `${e.t.toFixed(0)}s ${e.kind} ${e.peer}`),
      copies: report.timeline.map((t: any) => `${t.t.toFixed(0)}:${t.copies.join('/')}`).join(' ')
    })
    // a file falls below K only when enough of its holders are down at once (the adder's copy is
    // often a fourth): which peers hold what follows their random ids, so some runs need no repair,
    // and an episode can end without data moved (a holder thought gone answers again). Whenever the
    // observer saw a file below K, the episode was seen and resolved in time; repair that moves data
    // is proven by the replication tests, which kill a holder every run.
    const belowK = report.timeline.some((t: any) => t.t >= 0 && t.copies.some((c: number) => c < 3))
    assert.equal(report.repair.unresolved, 0, story())
    if (belowK) assert.ok(report.repair.episodes >= 1, story())
    if (report.repair.episodes > 0) {
      // an episode below K can chain two losses (up to 2 down at once, a stop every 5 s), each taking
      // detection (2 failed probe rounds) + the 3 s grace period + the leader's settle rounds + a
      // download: 30 s was measured exceeded by 0.3 s on a loaded run, a stalled repair takes longer
      assert.ok(report.repair.max <= 40, `slowest repair ${report.repair.max} s: ${story()}`)
    }
    if (report.repair.withDataMoved > 0) assert.ok(report.bytesMovedByRepair >= 1024 * 1024, story())
    assert.equal(report.files.length, 4)
    for (const f of report.files) assert.ok(f.finalCopies >= 3, `${f.cid} ends with ${f.finalCopies} copies`)
    assert.ok(report.timeline.length >= 40, 'sampled about once a second')
    // the DHT as the peers running at the end measured it: files were provided and looked up
    const dht = report.dht
    assert.ok(dht != null && dht.peers >= 1, JSON.stringify(dht))
    assert.ok(dht.provide.ok >= 1 && dht.provide.p50 > 0, JSON.stringify(dht.provide))
    assert.ok(dht.find.ok >= 1 && dht.find.successRate > 0 && dht.find.p50 > 0, JSON.stringify(dht.find))
    assert.ok(dht.routingTable.max >= 1, JSON.stringify(dht.routingTable))
    assert.ok(dht.messagesPerPeerPerSecond.inbound > 0, JSON.stringify(dht.messagesPerPeerPerSecond))
    assert.match(r.stderr, /DHT find\s+\d+ found/)

    // the same report on disk, and the chart
    const onDisk = JSON.parse(await fs.readFile(path.join(dir, 'report.json'), 'utf8'))
    assert.equal(onDisk.successRate, report.successRate)
    const svg = await fs.readFile(path.join(dir, 'chart.svg'), 'utf8')
    assert.match(svg, /^<svg /)
    assert.match(svg, /live peers/)
    // human table on stderr with --json
    assert.match(r.stderr, /repair time\s+p50/)
  })

  it('--erasure 4+2: 9 peers through 40 s of kills and graceful stops lose no file, and the report gives disk and repair traffic', async () => {
    const r = await shoal([
      'churn', '--peers', '9', '--files', '3', '--file-size', '3MiB', '--erasure', '4+2',
      '--duration', '40', '--interval', '5', '--downtime', '10', '--max-down', '2',
      '--grace-period', '3', '--kill-ratio', '0.5', '--seed', '7', '--dir', dir, '--json', '--quiet'
    ], { timeout: 280_000 })
    assert.equal(r.code, 0, r.stderr)
    const report = JSON.parse(r.stdout)
    const story = (): string => JSON.stringify({
      repair: report.repair,
      stops: report.events.list.map((e: any) => `${e.t.toFixed(0)}s ${e.kind} ${e.peer}`),
      fragments: report.timeline.map((t: any) => `${t.t.toFixed(0)}:${t.copies.join('/')}`).join(' '),
      failures: report.fetches.failures
    })
    assert.equal(report.lost, 0, story())
    assert.equal(report.corrupt, 0, story())
    assert.ok(report.successRate >= 0.95, `success rate ${report.successRate}: ${story()}`)
    assert.ok(report.events.kills + report.events.gracefulStops >= 4, JSON.stringify(report.events))
    // every file ends with its six fragments, each on a different peer, and was readable all along
    for (const f of report.files) assert.equal(f.finalCopies, 6, `${f.cid} ends with ${f.finalCopies} fragments: ${story()}`)
    for (const f of report.files) assert.ok(f.minCopies >= 4, `${f.cid} fell to ${f.minCopies} fragments: ${story()}`)
    // (K + M) / K of the data at most (5/3 for files of 3 leaves: one stripe of 3 data and 2 parity
    // fragments) with the interior nodes, not K copies' 3; an adder's own fragment stays in its user's
    // file, which no repo counts
    assert.ok(report.storedPerLogicalByte >= 1.2 && report.storedPerLogicalByte < 1.8, `stored ${report.storedPerLogicalByte} per byte`)
    if (report.holdersLost > 0 && report.repair.withDataMoved > 0) assert.ok(report.repairBytesPerLostHolder > 0, story())
    assert.match(r.stderr, /4\+2 erasure-coded \(K = 6 fragments wanted, 4 needed\)/)
    assert.match(r.stderr, /stored\s+[\d.]+ bytes in the repos per byte of the files/)
  })

  it('stops every daemon it started when interrupted with Ctrl-C', async () => {
    const child = spawn(process.execPath, [SHOAL_BIN, 'churn', '--peers', '4', '--files', '1', '--file-size', '64KiB', '--replicas', '2',
      '--duration', '60', '--dir', dir, '--keep', '--seed', '3'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    const churning = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', d => {
        stderr += d
        if (stderr.includes('churn: churn for')) resolve()
      })
      child.on('exit', () => { reject(new Error(`churn exited early: ${stderr}`)) })
    })
    await churning
    const pids: number[] = []
    for (const entry of await fs.readdir(dir)) {
      if (!entry.startsWith('peer-')) continue
      const lock = await fs.readFile(path.join(dir, entry, 'repo.lock'), 'utf8').catch(() => null)
      if (lock != null) pids.push(Number.parseInt(lock, 10))
    }
    assert.equal(pids.length, 4)
    assert.ok(pids.every(alive), 'the daemons run')

    const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
    child.kill('SIGINT')
    assert.equal(await exited, 130)
    assert.deepEqual(pids.filter(alive), [], 'no daemon left running')
    assert.match(stderr, /interrupted/)
  })
})
