import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Fleet } from './fleet.js'
import { runLimited } from './limit.js'
import type { ChurnOptions } from './options.js'
import { ChurnModel, Random } from './model.js'
import { ReplicaObserver, copiesOf } from './observer.js'
import { PeerProcess } from './peer-process.js'
import { buildReport } from './run-report.js'
import { dhtFigures, parseMetrics } from './dht-figures.js'
import type { DhtFigures } from './dht-figures.js'
import { sleep } from '../signals.js'
import { FetchWorkload, makeFiles } from './workload.js'
import type { ChurnEvent, ChurnReport } from './run-report.js'
import type { ChurnFile } from './workload.js'

/** Replica samples (one request to every peer) at most this often, and at least 20 ms per peer apart (ms). */
const SAMPLE_INTERVAL = 1_000
const SAMPLE_MS_PER_PEER = 20
/** Peers started at once at the beginning. */
const START_CONCURRENCY = 4
const SCHEDULER_TICK = 250
const SETTLE_TIMEOUT = 120_000
/** How long a peer's /metrics may take to answer at the end of a run (ms). */
const METRICS_TIMEOUT = 10_000
/** How long a graceful stop may take before the harness kills the peer (ms). */
const GRACEFUL_TIMEOUT = 60_000

/**
 * The churn test: N real daemons on loopback, F files added with
 * replication K, then D seconds of peers stopping (SIGKILL or graceful) and
 * coming back (or being replaced by new peers) per a churn model, never
 * more than `maxDown` at once, while fetch loops get random files from
 * random live peers and check every byte. Reports fetch success and
 * latency, time below K, repair times, lost files and corrupt reads.
 */
export async function runChurn (options: ChurnOptions): Promise<ChurnReport> {
  const run = new ChurnRun(options)
  return await run.run()
}

class ChurnRun {
  private readonly o: ChurnOptions
  /** Separate streams, so that fetch timing does not change the churn schedule of a seed. */
  private readonly random: Random
  private readonly fetchRandom: Random
  private readonly setupRandom: Random
  private readonly model: ChurnModel
  private fleet!: Fleet
  private readonly events: ChurnEvent[] = []
  private readonly workload: FetchWorkload
  private readonly upAt = new Map<PeerProcess, number>()
  private readonly stopAt = new Map<PeerProcess, number>()
  private readonly deferred = new Set<PeerProcess>()
  private readonly pending = new Set<Promise<void>>()
  private readonly controller = new AbortController()
  private files: ChurnFile[] = []
  private dir = ''
  private t0 = 0
  private nextStop = 0
  private skipped = 0
  /** Peers whose host is cut off right now (their daemons still run). */
  private readonly partitioned = new Set<PeerProcess>()

  constructor (options: ChurnOptions) {
    this.o = options
    this.random = new Random(options.seed)
    this.fetchRandom = new Random(options.seed ^ 0x5bd1e995)
    this.setupRandom = new Random(options.seed ^ 0x27d4eb2f)
    this.model = new ChurnModel(options, this.random)
    this.workload = new FetchWorkload({
      outDir: () => path.join(this.dir, 'out'),
      random: this.fetchRandom,
      signal: this.controller.signal,
      log: line => { options.log(line) },
      now: () => this.now(),
      livePeers: () => this.fleet.live()
    })
    options.signal?.addEventListener('abort', () => { this.controller.abort(options.signal?.reason) }, { once: true })
  }

  private get sampleInterval (): number {
    return Math.max(SAMPLE_INTERVAL, this.fleet.live().length * SAMPLE_MS_PER_PEER)
  }

  private get signal (): AbortSignal {
    return this.controller.signal
  }

  private now (): number {
    return (Date.now() - this.t0) / 1000
  }

  async run (): Promise<ChurnReport> {
    const o = this.o
    this.dir = o.dir ?? await fs.mkdtemp(path.join(os.tmpdir(), 'shoal-churn-'))
    await fs.mkdir(this.dir, { recursive: true })
    this.fleet = new Fleet(this.dir, o, this.setupRandom, this.signal)
    const killAll = (): void => { this.fleet.killNow() }
    process.once('exit', killAll)
    const started = Date.now()
    this.t0 = Date.now()
    try {
      await this.fleet.prepare()
      o.log(`starting ${o.peers} peers in ${this.dir}`)
      await this.fleet.add([])
      // a few at a time (a hundred Node processes starting at once on two cores take minutes to be
      // ready), each joining through a few peers already up rather than all through the first
      await runLimited(START_CONCURRENCY, Array.from({ length: o.peers - 1 }, () => async () => { await this.fleet.add(this.fleet.bootstrapFor()) }))
      this.files = await makeFiles(path.join(this.dir, 'files'), o.files, o.fileSize, o.seed)
      await this.fleet.waitForMesh()
      o.log(`${o.peers} peers up after ${((Date.now() - started) / 1000).toFixed(1)} s; adding ${o.files} files`)
      const adders = this.files.map(() => this.setupRandom.pick(this.fleet.live()))
      await Promise.all(this.files.map(async (file, i) => {
        const t = Date.now()
        // not pinned for the adder's user: its copy is one of the replicas, trimmed if it is not among the closest
        const keep = o.erasure == null ? { replicas: o.replicas } : { erasure: `${o.erasure.k}+${o.erasure.m}` }
        const result = await adders[i].client.events('/v1/add', { path: file.path, ...keep, pin: false }, () => {}, this.signal)
        file.cid = result.cid
        o.log(`added file ${i} through ${adders[i].name} in ${((Date.now() - t) / 1000).toFixed(1)} s`)
      }))
      const observer = new ReplicaObserver(this.files, this.target, o.erasure?.k ?? 1)
      o.log(`added ${o.files} files of ${o.fileSize} bytes ${o.erasure == null ? `with ${o.replicas} replicas` : `erasure-coded ${o.erasure.k}+${o.erasure.m}`}; waiting for every ${o.erasure == null ? 'copy' : 'fragment'}`)
      await this.settle(observer, -1)
      const setupSeconds = (Date.now() - started) / 1000

      // the churn itself
      this.t0 = Date.now()
      observer.startCounting()
      o.log(`churn for ${o.duration} s (${o.model} model, at most ${o.maxDown} down, ${Math.round(o.killRatio * 100)} % SIGKILL)`)
      this.nextStop = o.interval
      for (const p of this.fleet.live()) this.scheduleSession(p)
      const churnEnd = o.duration
      const fetchers = Array.from({ length: o.fetchers }, async () => { await this.workload.loop(this.files, churnEnd) })
      let lastSample = 0
      const sampleIfDue = async (): Promise<void> => {
        if (Date.now() - lastSample < this.sampleInterval) return
        lastSample = Date.now()
        const s = await observer.sample(this.now(), this.fleet.peers)
        o.log(`t=${s.t.toFixed(0)}s live ${s.live} down ${s.down} copies [${s.copies.join(' ')}]`)
      }
      while (this.now() < churnEnd) {
        this.signal.throwIfAborted()
        this.schedule()
        await sampleIfDue()
        await sleep(SCHEDULER_TICK, this.signal)
      }
      // fetches and stops begun before the end run to theirs; the copies are
      // still sampled meanwhile (an episode ends when a sample sees it end)
      const drain = { done: false }
      const draining = Promise.all([...fetchers, ...this.pending]).finally(() => { drain.done = true })
      while (!drain.done) {
        await sampleIfDue()
        await Promise.race([draining, sleep(SCHEDULER_TICK, this.signal)])
      }
      await draining
      await Promise.all(this.pending)

      // bring every stopped peer back, let the swarm settle, then read every file once more
      o.log('churn over; restarting stopped peers and letting replicas settle')
      await Promise.all(this.fleet.peers.filter(p => p.state === 'down').map(async p => {
        if (this.partitioned.has(p)) await this.heal(p)
        else await this.restart(p)
      }))
      const settled = await this.settle(observer, this.now(), true)
      observer.finish(this.now())
      const finalHolders = await observer.holders(this.fleet.peers)
      const stored = await this.storedBytes()
      for (const file of this.files) {
        await this.workload.once(file, this.fetchRandom.pick(this.fleet.live()))
      }
      const dht = await this.dhtFigures()
      const seconds = (Date.now() - started) / 1000
      return buildReport({
        options: this.o,
        dir: this.dir,
        peersStarted: this.fleet.peers.length,
        events: this.events,
        skipped: this.skipped,
        files: this.files,
        fetchLog: this.workload.records,
        dht
      }, observer, finalHolders.map(s => copiesOf(s)), seconds, setupSeconds, settled, stored)
    } finally {
      killAll()
      await this.fleet.destroy()
      process.off('exit', killAll)
      if (!o.keep) {
        await Promise.all(this.fleet.peers.map(async p => { await fs.rm(p.repo, { recursive: true, force: true }) }))
        await fs.rm(path.join(this.dir, 'files'), { recursive: true, force: true })
        await fs.rm(path.join(this.dir, 'out'), { recursive: true, force: true })
      }
    }
  }

  /** What each file is kept at: K copies, or K + M fragments. */
  private get target (): number {
    return this.o.erasure == null ? this.o.replicas : this.o.erasure.k + this.o.erasure.m
  }

  /**
   * Bytes the running peers' repos hold (blocks and replica packs; the files
   * added are referred to where they are), after a gc on each: what the
   * reads of the run left is not what keeping the files costs.
   */
  private async storedBytes (): Promise<number> {
    const repos = await Promise.all(this.fleet.live().map(async p => {
      await p.client.json('POST', '/v1/gc', {}, AbortSignal.timeout(METRICS_TIMEOUT)).catch(() => undefined)
      const stat = await p.client.json('GET', '/v1/stat', undefined, AbortSignal.timeout(METRICS_TIMEOUT)).catch(() => undefined)
      return (stat as { storage?: { repo?: number } } | undefined)?.storage?.repo ?? 0
    }))
    return repos.reduce((a, b) => a + b, 0)
  }

  /** Read the running peers' metrics: the DHT as they measured it (undefined when no peer serves them). */
  private async dhtFigures (): Promise<DhtFigures | undefined> {
    const read = await Promise.all(this.fleet.live().map(async p => {
      if (p.metricsUrl == null) return undefined
      const res = await fetch(`${p.metricsUrl}/metrics`, { signal: AbortSignal.timeout(METRICS_TIMEOUT) }).catch(() => undefined)
      return res?.ok === true ? parseMetrics(await res.text()) : undefined
    }))
    const samples = read.filter(s => s != null)
    return samples.length === 0 ? undefined : dhtFigures(samples, Date.now() / 1000)
  }

  private async restart (peer: PeerProcess): Promise<void> {
    await this.fleet.restart(peer)
    this.events.push({ t: this.now(), kind: 'restart', peer: peer.name })
    this.o.log(`t=${this.now().toFixed(0)}s restarted ${peer.name}`)
    this.scheduleSession(peer)
  }

  private scheduleSession (peer: PeerProcess): void {
    const session = this.model.session()
    if (session != null) this.stopAt.set(peer, this.now() + session)
  }

  /** One scheduler step: due restarts, then due stops (within the max-down limit). */
  private schedule (): void {
    const now = this.now()
    for (const [peer, at] of [...this.upAt]) {
      if (at > now || peer.state !== 'down') continue
      this.upAt.delete(peer)
      this.track(this.comeBack(peer))
    }
    const due: PeerProcess[] = []
    if (this.o.model === 'fixed') {
      if (now >= this.nextStop) {
        this.nextStop += this.o.interval
        const up = this.fleet.live()
        if (up.length > 0) due.push(this.random.pick(up))
      }
    } else {
      for (const [peer, at] of this.stopAt) if (at <= now && peer.isUp) due.push(peer)
    }
    for (const peer of due) {
      if (this.fleet.downCount() >= this.o.maxDown) {
        // counted once per stop put off, however long it waits
        if (!this.deferred.has(peer)) this.skipped++
        if (this.o.model !== 'fixed') {
          this.deferred.add(peer)
          this.stopAt.set(peer, now + 1)
        }
        continue
      }
      this.deferred.delete(peer)
      this.stopAt.delete(peer)
      this.track(this.stopPeer(peer))
    }
  }

  private async stopPeer (peer: PeerProcess): Promise<void> {
    if (this.fleet.lab != null && peer.labHost != null && this.random.chance(this.o.partitionRatio)) {
      const downtime = this.model.downtime()
      this.events.push({ t: this.now(), kind: 'partition', peer: peer.name })
      this.o.log(`t=${this.now().toFixed(0)}s partition: ${peer.name} cut off; healed in ${downtime.toFixed(0)} s`)
      peer.setState('stopping')
      await this.fleet.lab.partition(peer.labHost)
      this.partitioned.add(peer)
      peer.setState('down')
      this.upAt.set(peer, this.now() + downtime)
      return
    }
    const kill = this.random.chance(this.o.killRatio)
    const downtime = this.model.downtime()
    this.events.push({ t: this.now(), kind: kill ? 'kill' : 'graceful', peer: peer.name })
    this.o.log(`t=${this.now().toFixed(0)}s ${kill ? 'SIGKILL' : 'graceful stop of'} ${peer.name}; back in ${downtime.toFixed(0)} s`)
    if (kill) await peer.kill()
    else await peer.stop(GRACEFUL_TIMEOUT)
    this.upAt.set(peer, this.now() + downtime)
  }

  private async comeBack (peer: PeerProcess): Promise<void> {
    if (this.partitioned.has(peer)) {
      await this.heal(peer)
      return
    }
    if (this.random.chance(this.o.newRatio)) {
      peer.setState('retired')
      const fresh = await this.fleet.add(this.fleet.bootstrapFor(peer))
      this.events.push({ t: this.now(), kind: 'new-peer', peer: fresh.name })
      this.o.log(`t=${this.now().toFixed(0)}s ${peer.name} retired; new peer ${fresh.name}`)
      this.scheduleSession(fresh)
      return
    }
    await this.restart(peer)
  }

  /** End a partition: the host's link works again; its daemon never stopped. */
  private async heal (peer: PeerProcess): Promise<void> {
    await this.fleet.lab!.heal(peer.labHost!)
    this.partitioned.delete(peer)
    peer.setState('up')
    this.events.push({ t: this.now(), kind: 'heal', peer: peer.name })
    this.o.log(`t=${this.now().toFixed(0)}s healed ${peer.name}`)
    this.scheduleSession(peer)
  }

  private track (work: Promise<void>): void {
    const p = work.catch(err => {
      if (!this.signal.aborted) this.o.log(`churn step failed: ${err.message}`)
    }).finally(() => { this.pending.delete(p) })
    this.pending.add(p)
  }

  /**
   * Wait until every file has K complete copies on live peers, and with
   * `trimmed` no more than K either (surplus copies released), sampling as
   * we go. Whether it got there in time.
   */
  private async settle (observer: ReplicaObserver, t: number, trimmed = false): Promise<boolean> {
    const deadline = Date.now() + SETTLE_TIMEOUT
    while (Date.now() < deadline) {
      const s = await observer.sample(t < 0 ? -1 : this.now(), this.fleet.peers)
      if (s.copies.every((c, i) => c >= this.target && (!trimmed || s.holders[i] <= this.target))) return true
      await sleep(this.sampleInterval, this.signal)
    }
    this.o.log(`not every file reached K copies${trimmed ? ' and no more' : ''} in time`)
    return false
  }
}
