import { createCipheriv, createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { sha256File } from '../content/file-hash.js'
import { HostLab } from '../lab/host-lab.js'
import { DEFAULT_PORT, defaultConfig } from '../config/schema.js'
import { initRepo } from '../config/file.js'
import { newGroupKey } from '../replication/group.js'
import { ChurnModel, Random } from './model.js'
import { ReplicaObserver } from './observer.js'
import { PeerProcess } from './peer-process.js'
import { summarize } from './stats.js'
import type { ChurnModelName } from './model.js'
import type { PeerPlacement } from './peer-process.js'
import type { Episode, Sample, TrackedFile } from './observer.js'
import type { Summary } from './stats.js'
import { sleep } from '../signals.js'

export interface ChurnOptions {
  peers: number
  files: number
  fileSize: number
  replicas: number
  /** Seconds of churn. */
  duration: number
  model: ChurnModelName
  /** fixed model: seconds between stops. */
  interval: number
  /** exponential/weibull: median session (seconds); weibull shape. */
  median: number
  shape: number
  /** Median seconds a stopped peer stays down. */
  downtime: number
  maxDown: number
  /** Share of stops that are SIGKILL (the rest are graceful: SIGTERM, hand-over). */
  killRatio: number
  /** Share of restarts that bring a brand-new peer (new identity, empty repo) instead. */
  newRatio: number
  seed: number
  /** Daemon settings (seconds): liveness probe interval and grace period. */
  checkInterval: number
  gracePeriod: number
  /** Fetch loops running at once. */
  fetchers: number
  /** Run every peer on its own lab host (a network namespace with its own address; root needed), with this profile. */
  hosts?: { rate?: string, loss?: number }
  /** With `hosts`: share of stops that are partitions (the host cut off, its daemon left running). */
  partitionRatio: number
  /** Where the repos, logs, report.json and chart.svg go (a new temp dir if unset). */
  dir?: string
  /** Keep the repos afterwards. */
  keep: boolean
  log(line: string): void
  signal?: AbortSignal
}

interface ChurnEvent {
  t: number
  kind: 'kill' | 'graceful' | 'restart' | 'new-peer' | 'partition' | 'heal'
  peer: string
}

interface FetchRecord {
  t: number
  cid: string
  peer: string
  outcome: 'ok' | 'failed' | 'corrupt' | 'interrupted'
  seconds: number
  error?: string
}

export interface ChurnReport {
  options: Omit<ChurnOptions, 'log' | 'signal' | 'dir' | 'keep'>
  dir: string
  seconds: number
  setupSeconds: number
  peersStarted: number
  events: { kills: number, gracefulStops: number, partitions: number, restarts: number, newPeers: number, skipped: number, list: ChurnEvent[] }
  fetches: {
    attempts: number
    ok: number
    failed: number
    interrupted: number
    corrupt: number
    latency: Summary
    failures: FetchRecord[]
  }
  successRate: number
  lost: number
  corrupt: number
  repair: Summary & { episodes: number, withDataMoved: number, unresolved: number }
  /** Per file; `maxCopies`: the most complete copies seen at once, during the churn and the settling after it. */
  files: Array<{ cid: string, belowKSeconds: number, noCopySeconds: number, minCopies: number, maxCopies: number, finalCopies: number }>
  /** Every file ended at exactly K copies (surplus trimmed) within the settling time. */
  settled: boolean
  /** Samples where a running peer did not answer in time and its last answer was used. */
  lateAnswers: number
  bytesMovedByRepair: number
  timeline: Sample[]
  fetchLog: FetchRecord[]
}

const SAMPLE_INTERVAL = 1_000
const SCHEDULER_TICK = 250
const SETTLE_TIMEOUT = 120_000
/** Connections every peer should have before files are added. */
const MESH_PEERS = 5
/** How long a graceful stop may take before the harness kills the peer (ms). */
const GRACEFUL_TIMEOUT = 60_000
/** Pause of a fetch loop between two fetches (ms). */
const FETCH_PAUSE = 250
const FETCH_PROVIDER_TIMEOUT = 30_000

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
  private readonly peers: PeerProcess[] = []
  private readonly events: ChurnEvent[] = []
  private readonly fetchLog: FetchRecord[] = []
  private readonly upAt = new Map<PeerProcess, number>()
  private readonly stopAt = new Map<PeerProcess, number>()
  private readonly deferred = new Set<PeerProcess>()
  private readonly pending = new Set<Promise<void>>()
  private readonly controller = new AbortController()
  private files: Array<TrackedFile & { path: string, sha256: string }> = []
  private dir = ''
  private groupKey = ''
  private t0 = 0
  private nextStop = 0
  private skipped = 0
  private hostCounter = 0
  /** The lab hosts the peers run on, with `hosts`. */
  private lab?: HostLab
  /** Peers whose host is cut off right now (their daemons still run). */
  private readonly partitioned = new Set<PeerProcess>()

  constructor (options: ChurnOptions) {
    this.o = options
    this.random = new Random(options.seed)
    this.fetchRandom = new Random(options.seed ^ 0x5bd1e995)
    this.setupRandom = new Random(options.seed ^ 0x27d4eb2f)
    this.model = new ChurnModel(options, this.random)
    options.signal?.addEventListener('abort', () => { this.controller.abort(options.signal?.reason) }, { once: true })
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
    const killAll = (): void => { for (const p of this.peers) p.killNow() }
    process.once('exit', killAll)
    if (o.hosts != null) this.lab = await HostLab.create({ hosts: 0 })
    const started = Date.now()
    this.t0 = Date.now()
    try {
      // every peer is in one replication group: they keep each other's copies
      this.groupKey = path.join(this.dir, 'group.key')
      await fs.writeFile(this.groupKey, newGroupKey(), { mode: 0o600 })
      o.log(`starting ${o.peers} peers in ${this.dir}`)
      const first = await this.newPeer([])
      await Promise.all(Array.from({ length: o.peers - 1 }, async () => { await this.newPeer(first.addresses) }))
      await this.makeFiles()
      await this.waitForMesh()
      o.log(`${o.peers} peers up after ${((Date.now() - started) / 1000).toFixed(1)} s; adding ${o.files} files`)
      const adders = this.files.map(() => this.setupRandom.pick(this.livePeers()))
      await Promise.all(this.files.map(async (file, i) => {
        const t = Date.now()
        // not pinned for the adder's user: its copy is one of the replicas, trimmed if it is not among the closest
        const result = await adders[i].client.events('/v1/add', { path: file.path, replicas: o.replicas, pin: false }, () => {}, this.signal)
        file.cid = result.cid
        o.log(`added file ${i} through ${adders[i].name} in ${((Date.now() - t) / 1000).toFixed(1)} s`)
      }))
      const observer = new ReplicaObserver(this.files, o.replicas)
      o.log(`added ${o.files} files of ${o.fileSize} bytes with ${o.replicas} replicas; waiting for every copy`)
      await this.settle(observer, -1)
      const setupSeconds = (Date.now() - started) / 1000

      // the churn itself
      this.t0 = Date.now()
      observer.startCounting()
      o.log(`churn for ${o.duration} s (${o.model} model, at most ${o.maxDown} down, ${Math.round(o.killRatio * 100)} % SIGKILL)`)
      this.nextStop = o.interval
      for (const p of this.livePeers()) this.scheduleSession(p)
      const churnEnd = o.duration
      const fetchers = Array.from({ length: o.fetchers }, async () => { await this.fetchLoop(churnEnd) })
      let lastSample = 0
      while (this.now() < churnEnd) {
        this.signal.throwIfAborted()
        this.schedule()
        if (Date.now() - lastSample >= SAMPLE_INTERVAL) {
          lastSample = Date.now()
          const s = await observer.sample(this.now(), this.peers)
          o.log(`t=${s.t.toFixed(0)}s live ${s.live} down ${s.down} copies [${s.copies.join(' ')}]`)
        }
        await sleep(SCHEDULER_TICK, this.signal)
      }
      await Promise.all(fetchers)
      await Promise.all(this.pending)

      // bring every stopped peer back, let the swarm settle, then read every file once more
      o.log('churn over; restarting stopped peers and letting replicas settle')
      await Promise.all(this.peers.filter(p => p.state === 'down').map(async p => {
        if (this.partitioned.has(p)) await this.heal(p)
        else await this.restart(p)
      }))
      const settled = await this.settle(observer, this.now(), true)
      observer.finish(this.now())
      const finalHolders = await observer.holders(this.peers)
      for (const file of this.files) {
        await this.fetchOnce(file, this.fetchRandom.pick(this.livePeers()))
      }
      const seconds = (Date.now() - started) / 1000
      return this.report(observer, finalHolders.map(s => s.size), seconds, setupSeconds, settled)
    } finally {
      killAll()
      await Promise.all(this.peers.map(async p => { await p.kill().catch(() => {}); p.closeLog() }))
      await this.lab?.destroy()
      process.off('exit', killAll)
      if (!o.keep) {
        await Promise.all(this.peers.map(async p => { await fs.rm(p.repo, { recursive: true, force: true }) }))
        await fs.rm(path.join(this.dir, 'files'), { recursive: true, force: true })
        await fs.rm(path.join(this.dir, 'out'), { recursive: true, force: true })
      }
    }
  }

  /** Let the DHT fill in: every peer connected to several others (bounded wait). */
  private async waitForMesh (): Promise<void> {
    const want = Math.min(this.o.peers - 1, MESH_PEERS)
    const deadline = Date.now() + SETTLE_TIMEOUT
    while (Date.now() < deadline) {
      const counts = await Promise.all(this.livePeers().map(async p => {
        const { peers } = await p.client.json('GET', '/v1/peers', undefined, this.signal)
        return peers.length as number
      }))
      if (counts.every(c => c >= want)) return
      await sleep(SAMPLE_INTERVAL / 4, this.signal)
    }
    this.o.log('some peers are still poorly connected; going on')
  }

  private livePeers (): PeerProcess[] {
    return this.peers.filter(p => p.isUp)
  }

  private downCount (): number {
    return this.peers.filter(p => p.state === 'down' || p.state === 'stopping').length
  }

  /** A peer with a new repo (new identity) on its own loopback address, or its own lab host. */
  private async newPeer (bootstrap: string[]): Promise<PeerProcess> {
    const i = this.hostCounter++
    const name = `peer-${String(i).padStart(2, '0')}`
    const repo = path.join(this.dir, name)
    const config = defaultConfig()
    config.replication = {
      ...config.replication,
      checkInterval: Math.round(this.o.checkInterval * 1000),
      probeTimeout: Math.round(Math.max(this.o.checkInterval * 2, 2) * 1000),
      gracePeriod: Math.round(this.o.gracePeriod * 1000),
      leaveTimeout: 30_000,
      groupKeyFile: this.groupKey
    }
    await initRepo(repo, config)
    const peer = new PeerProcess(name, repo, await this.placeNewPeer(i), path.join(this.dir, `${name}.log`))
    this.peers.push(peer)
    await peer.start(bootstrap, this.signal)
    return peer
  }

  private async placeNewPeer (i: number): Promise<PeerPlacement> {
    const lab = this.lab
    if (lab == null) return { host: `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}` }
    const host = await lab.addHost({ rate: this.o.hosts?.rate, loss: this.o.hosts?.loss })
    // a host of its own: all interfaces, the usual port, and the address others reach it by
    return { host: '0.0.0.0', port: DEFAULT_PORT, labHost: host.index, launch: (cmd, args, options) => lab.spawn(host.index, cmd, args, options) }
  }

  private bootstrapFor (peer: PeerProcess): string[] {
    const others = this.livePeers().filter(p => p !== peer)
    const chosen: string[] = []
    for (let i = 0; i < 3 && others.length > 0; i++) {
      const [p] = others.splice(this.setupRandom.int(others.length), 1)
      chosen.push(...p.addresses)
    }
    return chosen
  }

  private async restart (peer: PeerProcess): Promise<void> {
    try {
      await peer.start(this.bootstrapFor(peer), this.signal)
    } catch (err: any) {
      if (this.signal.aborted) throw err
      // the old port may be taken: take any
      peer.port = 0
      await peer.start(this.bootstrapFor(peer), this.signal)
    }
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
        const up = this.livePeers()
        if (up.length > 0) due.push(this.random.pick(up))
      }
    } else {
      for (const [peer, at] of this.stopAt) if (at <= now && peer.isUp) due.push(peer)
    }
    for (const peer of due) {
      if (this.downCount() >= this.o.maxDown) {
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
    if (this.lab != null && peer.labHost != null && this.random.chance(this.o.partitionRatio)) {
      const downtime = this.model.downtime()
      this.events.push({ t: this.now(), kind: 'partition', peer: peer.name })
      this.o.log(`t=${this.now().toFixed(0)}s partition: ${peer.name} cut off; healed in ${downtime.toFixed(0)} s`)
      peer.setState('stopping')
      await this.lab.partition(peer.labHost)
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
      const fresh = await this.newPeer(this.bootstrapFor(peer))
      this.events.push({ t: this.now(), kind: 'new-peer', peer: fresh.name })
      this.o.log(`t=${this.now().toFixed(0)}s ${peer.name} retired; new peer ${fresh.name}`)
      this.scheduleSession(fresh)
      return
    }
    await this.restart(peer)
  }

  /** End a partition: the host's link works again; its daemon never stopped. */
  private async heal (peer: PeerProcess): Promise<void> {
    await this.lab!.heal(peer.labHost!)
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
      const s = await observer.sample(t < 0 ? -1 : this.now(), this.peers)
      if (s.copies.every(c => c >= this.o.replicas && (!trimmed || c <= this.o.replicas))) return true
      await sleep(SAMPLE_INTERVAL, this.signal)
    }
    this.o.log(`not every file reached K copies${trimmed ? ' and no more' : ''} in time`)
    return false
  }

  private async makeFiles (): Promise<void> {
    const dir = path.join(this.dir, 'files')
    await fs.mkdir(dir, { recursive: true })
    for (let i = 0; i < this.o.files; i++) {
      const file = path.join(dir, `file-${i}.bin`)
      // deterministic bytes from the seed: AES-CTR keystream
      const key = createHash('sha256').update(`shoal-churn:${this.o.seed}:${i}`).digest()
      const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
      const handle = await fs.open(file, 'w')
      const piece = Buffer.alloc(1024 * 1024)
      for (let done = 0; done < this.o.fileSize; done += piece.length) {
        await handle.write(cipher.update(piece.subarray(0, Math.min(piece.length, this.o.fileSize - done))))
      }
      await handle.close()
      this.files.push({ cid: '', size: this.o.fileSize, path: file, sha256: await sha256File(file) })
    }
  }

  private async fetchLoop (end: number): Promise<void> {
    while (this.now() < end && !this.signal.aborted) {
      const up = this.livePeers()
      if (up.length > 0) await this.fetchOnce(this.fetchRandom.pick(this.files), this.fetchRandom.pick(up))
      await sleep(FETCH_PAUSE, this.signal).catch(() => {})
    }
  }

  /** Fetch a file through one peer, check its bytes, and drop the copy again (gc). */
  private async fetchOnce (file: TrackedFile & { sha256: string }, peer: PeerProcess): Promise<void> {
    const outDir = path.join(this.dir, 'out')
    await fs.mkdir(outDir, { recursive: true })
    const output = path.join(outDir, `${peer.name}-${Date.now()}-${this.fetchRandom.int(1e9)}`)
    const t = this.now()
    const started = performance.now()
    const record: FetchRecord = { t, cid: file.cid, peer: peer.name, outcome: 'ok', seconds: 0 }
    try {
      await peer.client.events('/v1/get', { cid: file.cid, output, pin: false, force: true, providerTimeout: FETCH_PROVIDER_TIMEOUT }, () => {}, this.signal)
      record.seconds = (performance.now() - started) / 1000
      if (await sha256File(output) !== file.sha256) {
        record.outcome = 'corrupt'
        this.o.log(`CORRUPT read of ${file.cid} through ${peer.name}`)
      }
      await peer.client.json('POST', '/v1/gc', undefined, this.signal).catch(() => {})
    } catch (err: any) {
      record.seconds = (performance.now() - started) / 1000
      // the harness stopped this peer while it was fetching: not the swarm's failure
      record.outcome = peer.isUp ? 'failed' : 'interrupted'
      record.error = err.message
      if (record.outcome === 'failed') this.o.log(`fetch of ${file.cid} through ${peer.name} failed: ${err.message}`)
    } finally {
      await fs.rm(output, { force: true })
    }
    this.fetchLog.push(record)
  }

  private report (observer: ReplicaObserver, finalCopies: number[], seconds: number, setupSeconds: number, settled: boolean): ChurnReport {
    const { log: _log, signal: _signal, dir: _dir, keep: _keep, ...options } = this.o
    const counted = this.fetchLog.filter(f => f.outcome !== 'interrupted')
    const ok = counted.filter(f => f.outcome === 'ok')
    const corrupt = this.fetchLog.filter(f => f.outcome === 'corrupt').length
    const episodes: Episode[] = observer.episodes
    const lastFetchFailed = new Set(this.fetchLog.slice(-this.files.length).filter(f => f.outcome !== 'ok').map(f => f.cid))
    return {
      options,
      dir: this.dir,
      seconds,
      setupSeconds,
      peersStarted: this.peers.length,
      events: {
        kills: this.events.filter(e => e.kind === 'kill').length,
        gracefulStops: this.events.filter(e => e.kind === 'graceful').length,
        partitions: this.events.filter(e => e.kind === 'partition').length,
        restarts: this.events.filter(e => e.kind === 'restart').length,
        newPeers: this.events.filter(e => e.kind === 'new-peer').length,
        skipped: this.skipped,
        list: this.events
      },
      fetches: {
        attempts: this.fetchLog.length,
        ok: ok.length,
        failed: counted.filter(f => f.outcome === 'failed').length,
        interrupted: this.fetchLog.length - counted.length,
        corrupt,
        latency: summarize(ok.map(f => f.seconds)),
        failures: counted.filter(f => f.outcome !== 'ok').slice(0, 20)
      },
      successRate: counted.length === 0 ? 0 : ok.length / counted.length,
      // lost: no complete copy on any live peer at the end, and the final read failed
      lost: this.files.filter((f, i) => finalCopies[i] === 0 && lastFetchFailed.has(f.cid)).length,
      corrupt,
      repair: {
        ...summarize(episodes.map(e => e.seconds)),
        episodes: episodes.length,
        withDataMoved: episodes.filter(e => e.repaired).length,
        unresolved: episodes.filter(e => e.unresolved).length
      },
      files: this.files.map((f, i) => ({
        cid: f.cid,
        belowKSeconds: Math.round(observer.belowK[i] * 10) / 10,
        noCopySeconds: Math.round(observer.noCopy[i] * 10) / 10,
        minCopies: Number.isFinite(observer.minCopies[i]) ? observer.minCopies[i] : finalCopies[i],
        maxCopies: Math.max(observer.maxCopies[i], finalCopies[i]),
        finalCopies: finalCopies[i]
      })),
      settled,
      lateAnswers: observer.lateAnswers,
      bytesMovedByRepair: observer.bytesMovedByRepair,
      timeline: observer.samples,
      fetchLog: this.fetchLog
    }
  }
}
