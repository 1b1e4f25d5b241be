import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { unixfs } from '@helia/unixfs'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { shoalOk } from '../test/helpers/cli.js'
import { Abuser } from '../test/helpers/abuser.js'
import { DAEMON_NODE_FLAGS } from '../src/daemon/constants.js'
import { createBenchHelia } from './helia/node.js'
import { coresOf, cpuSeconds, pinTo } from './process.js'
import type { EncrypterName } from './transports.js'
import { Cluster, bytesUnder, MiB, mbps, median, procStatus, writeRandomFile } from './lib.js'

const here = path.dirname(fileURLToPath(import.meta.url))
/** How long a daemon is left alone before its idle memory is read (ms). */
const IDLE_SETTLE = 3000
/** Size of the file a downloading daemon fetches, untimed, before the one measured (MiB). */
const WARM_UP_MIB = 32

interface Child {
  /** Its first line of output, as JSON. */
  info: any
  pid: number | undefined
  /** Its next line of output, as JSON (rejects if it exits first). */
  next(): Promise<any>
  /** Writes a line to its stdin. */
  tell(line: string): void
  stop(): void
}

/** Start a child process script and read its first stdout line as JSON. */
async function child (script: string, args: string[], nodeFlags: string[] = [], wrapper: string[] = []): Promise<Child> {
  const command = [...wrapper, process.execPath, ...nodeFlags, path.join(here, script), ...args]
  const proc = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  const waiting: Array<{ resolve(line: string): void, reject(err: Error): void }> = []
  let buf = ''
  let exit: Error | undefined
  proc.stdout.on('data', d => {
    buf += d
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      lines.push(buf.slice(0, nl))
      buf = buf.slice(nl + 1)
    }
    while (lines.length > 0 && waiting.length > 0) waiting.shift()!.resolve(lines.shift()!)
  })
  proc.once('exit', code => {
    exit = new Error(`${script} exited ${code}`)
    for (const w of waiting.splice(0)) w.reject(exit)
  })
  const next = async (): Promise<any> => JSON.parse(await new Promise<string>((resolve, reject) => {
    if (lines.length > 0) resolve(lines.shift()!)
    else if (exit != null) reject(exit)
    else waiting.push({ resolve, reject })
  }))
  return { info: await next(), pid: proc.pid, next, tell: line => { proc.stdin.write(line + '\n') }, stop: () => { proc.kill('SIGTERM') } }
}

/** One measured transfer: its median rate and what each side's process spent on it. */
interface Figure { MBps: number, seconds: number[], cpuPerGiB: { sender: number, receiver: number }, what: string }

const GiB = 1024 * MiB

function figure (bytes: number, seconds: number[], senderCpu: number[], receiverCpu: number[], what: string): Figure {
  const perGiB = (cpu: number[]): number => Math.round(median(cpu) / (bytes / GiB) * 100) / 100
  return { MBps: mbps(bytes, median(seconds)), seconds, cpuPerGiB: { sender: perGiB(senderCpu), receiver: perGiB(receiverCpu) }, what }
}

/** Cores for the two ends when pinned (each peer its own), or undefined. */
type Pin = { sender: string, receiver: string } | undefined

/**
 * `runs` pulls of `sizeMiB` over one plain libp2p stream between two child
 * processes, both with the daemons' Node flags (unless `bareNode`) and the
 * encrypter named.
 */
async function rawStream (sizeMiB: number, runs: number, encrypter: EncrypterName, pin: Pin, bareNode = false): Promise<Figure> {
  const flags = bareNode ? [] : DAEMON_NODE_FLAGS
  const peer = await child('raw-peer.js', ['127.0.0.20', encrypter], flags)
  try {
    if (pin != null) await pinTo(peer.pid, pin.sender)
    // the client says when its untimed warm-up pull is done: the sender's CPU is counted from then
    const client = await child('raw-client.js', ['127.0.0.21', encrypter, peer.info.addresses[0], String(sizeMiB), String(runs)], flags,
      pin == null ? [] : ['taskset', '-c', pin.receiver])
    const before = await cpuSeconds(peer.pid)
    client.tell('go')
    const { seconds, cpuSeconds: received, encryption } = await client.next()
    const sent = (await cpuSeconds(peer.pid) - before) / runs
    return figure(sizeMiB * MiB, seconds, seconds.map(() => sent), received,
      `one plain libp2p stream, TCP + ${encryption} + yamux, 1 MiB writes, two processes${bareNode ? ' without the daemons\' Node flags' : ' with the daemons\' Node flags'}`)
  } finally {
    peer.stop()
  }
}

/** Helia (bitswap) fetching and reading the same file between two nodes: a child process provides, this process fetches. */
async function heliaBitswap (dir: string, input: string, runs: number, pin: Pin): Promise<Figure> {
  const provider = await child('helia/provider.js', [input, path.join(dir, 'helia-provider')])
  const times: number[] = []
  const sent: number[] = []
  const received: number[] = []
  const ownCores = await coresOf(process.pid)
  try {
    if (pin != null) {
      await pinTo(provider.pid, pin.sender)
      await pinTo(process.pid, pin.receiver)
    }
    // one untimed run first: the provider's code warmed up, as the raw stream's and Shoal's are
    for (let r = -1; r < runs; r++) {
      const blocks = path.join(dir, `helia-client-${r}`)
      const helia = await createBenchHelia('/ip4/127.0.0.23/tcp/0', blocks)
      try {
        await helia.libp2p.dial(multiaddr(provider.info.addresses[0]))
        const senderBefore = await cpuSeconds(provider.pid)
        const cpu = process.cpuUsage()
        const start = performance.now()
        let bytes = 0
        for await (const chunk of unixfs(helia).cat(CID.parse(provider.info.cid))) bytes += chunk.byteLength
        if (r < 0) continue
        times.push((performance.now() - start) / 1000)
        const used = process.cpuUsage(cpu)
        received.push((used.user + used.system) / 1e6)
        sent.push(await cpuSeconds(provider.pid) - senderBefore)
        const st = await fs.stat(input)
        if (bytes !== st.size) throw new Error(`helia read ${bytes} bytes`)
      } finally {
        await helia.stop()
        await fs.rm(blocks, { recursive: true, force: true })
      }
    }
  } finally {
    provider.stop()
    if (pin != null) await pinTo(process.pid, ownCores)
  }
  return figure((await fs.stat(input)).size, times, sent, received, 'Helia 7 bitswap, same file and 1 MiB chunks, two processes, cat to the end')
}

/**
 * libtorrent (qbittorrent-nox, the Debian package) moving the same size
 * between two instances on loopback over TCP, from adding the torrent on
 * the leecher to every piece verified (`bittorrent/bt-bench.sh`), with its
 * default encryption setting. Undefined, with why, when qbittorrent-nox or
 * mktorrent is not installed.
 */
async function libtorrent (sizeMiB: number, runs: number, pin: Pin): Promise<{ figure: Figure, runs: any[] } | { missing: string }> {
  const script = path.join(here, '..', '..', 'bench', 'bittorrent', 'bt-bench.sh')
  const found = await Promise.all(['qbittorrent-nox', 'mktorrent'].map(async bin => await new Promise<boolean>(resolve => {
    spawn('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).once('exit', code => { resolve(code === 0) })
  })))
  if (found.includes(false)) return { missing: 'qbittorrent-nox or mktorrent is not installed (apt-get install qbittorrent-nox mktorrent)' }
  const results: any[] = []
  for (let r = 0; r < runs; r++) {
    const line = await new Promise<string>((resolve, reject) => {
      const proc = spawn('bash', [script, String(sizeMiB)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BT_PROTOCOL: '1', BT_PIN: pin == null ? '0' : '1' } })
      let buf = ''
      proc.stdout.on('data', d => { buf += d })
      proc.once('exit', code => { code === 0 ? resolve(buf.trim().split('\n').pop()!) : reject(new Error(`bt-bench.sh exited ${code}: ${buf}`)) })
    })
    results.push(JSON.parse(line))
  }
  const cpu = (role: 'seeder' | 'leecher'): number[] => results.map(r => r.cpuSecondsDuringDownload?.[role] ?? Number.NaN)
  return {
    figure: figure(sizeMiB * MiB, results.map(r => r.seconds), cpu('seeder'), cpu('leecher'),
      'qbittorrent-nox (libtorrent) seeder to leecher on loopback, TCP, its default encryption setting: from adding the torrent to every piece verified'),
    runs: results
  }
}

export interface ScenarioOptions { dir: string, runs: number }

const ratio = (a: number, b: number): number => Math.round(a / b * 100) / 100

/**
 * One seeder, one downloader: Shoal beside the raw stack (each encrypter,
 * with the daemons' flags) and Helia's bitswap and libtorrent. `pinned`:
 * every sender on core 0 and every receiver on core 1.
 */
export async function singleSource (o: ScenarioOptions & { sizeMiB: number, pinned: boolean }): Promise<any> {
  const input = path.join(o.dir, 'single-input')
  await fs.access(input).catch(async () => { await writeRandomFile(input, o.sizeMiB) })
  const warm = path.join(o.dir, 'single-warm-up')
  await fs.access(warm).catch(async () => { await writeRandomFile(warm, WARM_UP_MIB) })
  const bytes = o.sizeMiB * MiB
  const pin: Pin = o.pinned ? { sender: '0', receiver: '1' } : undefined
  const raw: Record<string, Figure> = {}
  for (const encrypter of ['shoal', 'noise', 'stock-noise'] as const) raw[encrypter] = await rawStream(o.sizeMiB, o.runs, encrypter, pin)
  raw['stock-noise-bare-node'] = await rawStream(o.sizeMiB, o.runs, 'stock-noise', pin, true)
  const helia = await heliaBitswap(o.dir, input, o.runs, pin)
  const bt = await libtorrent(o.sizeMiB, o.runs, pin)
  const cluster = new Cluster(path.join(o.dir, `single-${o.pinned ? 'pinned' : 'shared'}`))
  const fetch: number[] = []
  const wall: number[] = []
  const seedCpu: number[] = []
  const leechCpu: number[] = []
  let seedDisk = 0
  let leechDisk = 0
  try {
    const seed = await cluster.start('seed')
    if (pin != null) await pinTo(seed.child.pid, pin.sender)
    const cid = await cluster.add('seed', input)
    // the user's file and the repo's blocks: what sharing the file costs on disk
    seedDisk = bytes + await bytesUnder(cluster.repo('seed'))
    const warmCid = await cluster.add('seed', warm)
    for (let r = 0; r < o.runs; r++) {
      const leech = await cluster.start(`leech-${r}`, ['--bootstrap', cluster.daemons[0].addresses[0]])
      if (pin != null) await pinTo(leech.child.pid, pin.receiver)
      // a daemon that has run a while: both ends' code warmed up by another file first
      await cluster.get(`leech-${r}`, warmCid)
      const before = [await cpuSeconds(seed.child.pid), await cpuSeconds(leech.child.pid)]
      const got = await cluster.get(`leech-${r}`, cid)
      seedCpu.push(await cpuSeconds(seed.child.pid) - before[0])
      leechCpu.push(await cpuSeconds(leech.child.pid) - before[1])
      fetch.push(got.summary.seconds)
      wall.push(got.wall)
      leechDisk = got.diskBytes
      await leech.kill('SIGTERM')
    }
  } finally {
    await cluster.stop()
  }
  const shoalFetch = figure(bytes, fetch, seedCpu, leechCpu, 'fetch, verify and store every block (the daemons\' CPU during the whole get)')
  const shoalGet = figure(bytes, wall, seedCpu, leechCpu, 'whole `shoal get` (the CLI process), including writing and syncing the output file')
  const btFigure = 'figure' in bt ? bt.figure : undefined
  return {
    scenario: 'single-source',
    cores: o.pinned ? 'pinned: every sender on core 0, every receiver on core 1 (taskset), a stand-in for two machines' : 'shared: both ends on any core',
    bytes,
    runs: o.runs,
    rawStream: raw,
    heliaBitswap: helia,
    libtorrent: btFigure == null ? { skipped: (bt as { missing: string }).missing } : { ...btFigure, transport: (bt as any).runs.map((r: any) => `${r.transport} ${r.peerFlags}`), firstByteToDoneMBps: (bt as any).runs.map((r: any) => r.firstByteToDoneMBps) },
    shoalFetch,
    shoalGet,
    disk: {
      afterAdd: Math.round(seedDisk / bytes * 1000) / 1000,
      afterGet: Math.round(leechDisk / bytes * 1000) / 1000,
      what: 'bytes on the peer\'s disk (the file, and the whole repo: blocks, packs, datastore) over the file size: after `add` on the seeder, after `get` on a downloader'
    },
    ratios: {
      fetchVsRaw: ratio(shoalFetch.MBps, raw.shoal.MBps),
      getVsRaw: ratio(shoalGet.MBps, raw.shoal.MBps),
      fetchVsHelia: ratio(shoalFetch.MBps, helia.MBps),
      getVsHelia: ratio(shoalGet.MBps, helia.MBps),
      getVsLibtorrent: btFigure == null ? undefined : ratio(shoalGet.MBps, btFigure.MBps),
      shoalTransportVsStockNoise: ratio(raw.shoal.MBps, raw['stock-noise'].MBps),
      daemonFlagsVsBareNode: ratio(raw['stock-noise'].MBps, raw['stock-noise-bare-node'].MBps)
    }
  }
}

/** N seeders each limited to R bytes/s: does a download get N × R? */
export async function swarmScaling (o: ScenarioOptions & { sizeMiB: number, rate: number, counts: number[] }): Promise<any> {
  const input = path.join(o.dir, 'scaling-input')
  await writeRandomFile(input, o.sizeMiB)
  const bytes = o.sizeMiB * MiB
  const rows = []
  for (const n of o.counts) {
    const cluster = new Cluster(path.join(o.dir, `scaling-${n}`))
    try {
      let cid = ''
      for (let i = 0; i < n; i++) {
        await cluster.start(`seed-${i}`, ['--max-upload-rate', String(o.rate), ...(i > 0 ? ['--bootstrap', cluster.daemons[0].addresses[0]] : [])])
        cid = await cluster.add(`seed-${i}`, input)
      }
      await cluster.start('leech', cluster.daemons.flatMap(d => ['--bootstrap', d.addresses[0]]))
      const got = await cluster.get('leech', cid)
      const MBps = mbps(bytes, got.summary.seconds)
      const ideal = n * o.rate / 1e6
      rows.push({ seeders: n, MBps, idealMBps: ideal, ofIdeal: Math.round(MBps / ideal * 100) / 100, peersUsed: got.summary.peers.length })
    } finally {
      await cluster.stop()
    }
  }
  return { scenario: 'swarm-scaling', bytes, ratePerSeeder: o.rate, rows }
}

/** One rate-limited seeder, eight downloaders at once, against the seeder alone serving eight copies. */
export async function flashCrowd (o: ScenarioOptions & { sizeMiB: number, rate: number, downloaders: number }): Promise<any> {
  const input = path.join(o.dir, 'crowd-input')
  await writeRandomFile(input, o.sizeMiB)
  const bytes = o.sizeMiB * MiB
  const cluster = new Cluster(path.join(o.dir, 'crowd'))
  try {
    const seed = await cluster.start('seed', ['--max-upload-rate', String(o.rate)])
    const cid = await cluster.add('seed', input)
    // baseline, measured here: one downloader alone gives the seeder's real rate
    await cluster.start('solo', ['--bootstrap', seed.addresses[0]])
    const solo = await cluster.get('solo', cid)
    const seederRate = bytes / solo.summary.seconds
    const names = Array.from({ length: o.downloaders }, (_, i) => `d${i}`)
    for (const name of names) await cluster.start(name, ['--bootstrap', seed.addresses[0]])
    const start = performance.now()
    const results = await Promise.all(names.map(async name => await cluster.get(name, cid)))
    const total = (performance.now() - start) / 1000
    const baseline = o.downloaders * bytes / seederRate
    const fromSeeder = results.reduce((n, r) => n + (r.summary.peers.find((p: any) => p.peerId === seed.peerId)?.bytes ?? 0), 0)
    return {
      scenario: 'flash-crowd',
      bytes,
      downloaders: o.downloaders,
      seederRateLimit: o.rate,
      seconds: Math.round(total * 100) / 100,
      baselineSeconds: Math.round(baseline * 100) / 100,
      baseline: 'the seeder serving every downloader a full copy at the rate it gave one downloader alone, measured in this run',
      speedup: Math.round(baseline / total * 100) / 100,
      seederShare: Math.round(fromSeeder / (o.downloaders * bytes) * 100) / 100
    }
  } finally {
    await cluster.stop()
  }
}

/** Peak RSS of the downloading daemon for two file sizes: memory must not grow with the file. */
export async function memory (o: ScenarioOptions & { smallMiB: number, largeMiB: number }): Promise<any> {
  const rows = []
  for (const sizeMiB of [o.smallMiB, o.largeMiB]) {
    const input = path.join(o.dir, `memory-${sizeMiB}`)
    await writeRandomFile(input, sizeMiB)
    const cluster = new Cluster(path.join(o.dir, `memory-${sizeMiB}-repos`))
    try {
      const seed = await cluster.start('seed')
      const cid = await cluster.add('seed', input)
      const leech = await cluster.start('leech', ['--bootstrap', seed.addresses[0]])
      // idle: up, connected and bootstrapped, nothing asked of it yet
      await new Promise(resolve => setTimeout(resolve, IDLE_SETTLE))
      const idleRssMiB = Math.round(await cluster.rss(leech) / MiB)
      const got = await cluster.get('leech', cid)
      rows.push({ MiB: sizeMiB, idleRssMiB, peakRssMiB: Math.round(await cluster.peakRss(leech) / MiB), MBps: mbps(sizeMiB * MiB, got.summary.seconds) })
    } finally {
      await cluster.stop()
      await fs.rm(input, { force: true })
      await fs.rm(path.join(o.dir, `memory-${sizeMiB}-repos`), { recursive: true, force: true })
    }
  }
  const [small, large] = rows
  // baseline, measured here: a bare libp2p peer (TCP, noise, yamux, in its own process, with the
  // daemon's Node flags) and a bare Node process
  const raw = await child('raw-peer.js', ['127.0.0.22'], DAEMON_NODE_FLAGS)
  await new Promise(resolve => setTimeout(resolve, IDLE_SETTLE))
  const bareLibp2pMiB = Math.round(await procStatus(raw.pid, 'VmRSS') / MiB)
  raw.stop()
  const node = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
  await new Promise(resolve => setTimeout(resolve, 500))
  const bareNodeMiB = Math.round(await procStatus(node.pid, 'VmRSS') / MiB)
  node.kill()
  return { scenario: 'memory', rows, bareLibp2pMiB, bareNodeMiB, largeOverSmall: Math.round(large.peakRssMiB / small.peakRssMiB * 100) / 100 }
}

/**
 * One honest `get` from a seeder, alone and while a hostile peer attacks the
 * seeder (junk, truncated messages, want floods, DHT records, idle streams),
 * alternating so that both see the same machine. The abuser runs in this
 * process: its own CPU time is reported, since on a small machine it takes
 * cores from the daemons whatever their defences.
 */
export async function getUnderAbuse (o: ScenarioOptions & { sizeMiB: number }): Promise<any> {
  const input = path.join(o.dir, 'abuse-input')
  await writeRandomFile(input, o.sizeMiB)
  const bytes = o.sizeMiB * MiB
  const cluster = new Cluster(path.join(o.dir, 'abuse'))
  try {
    const seed = await cluster.start('seed')
    const cid = await cluster.add('seed', input)
    await cluster.start('leech', ['--bootstrap', seed.addresses[0]])
    const timedGet = async (): Promise<number> => {
      await shoalOk(['gc', '--repo', cluster.repo('leech')])
      const got = await cluster.get('leech', cid)
      return mbps(bytes, got.summary.seconds)
    }
    const clean: number[] = []
    const abused: number[] = []
    let attacks = 0
    let refused = 0
    let abuserCpuSeconds = 0
    let abusedSeconds = 0
    for (let i = 0; i < o.runs; i++) {
      clean.push(await timedGet())
      const abuser = await Abuser.start(seed.addresses[0])
      const cpu = process.cpuUsage()
      const started = performance.now()
      abused.push(await timedGet())
      abusedSeconds += (performance.now() - started) / 1000
      const used = process.cpuUsage(cpu)
      abuserCpuSeconds += (used.user + used.system) / 1e6
      await abuser.stop()
      attacks += abuser.attacks
      refused += abuser.refused
    }
    return {
      scenario: 'get-under-abuse',
      bytes,
      cleanMBps: median(clean),
      abusedMBps: median(abused),
      baseline: 'the same get from the same seeder with no abuser, alternating with the abused runs',
      ratio: Math.round(median(abused) / median(clean) * 100) / 100,
      attacksPerSecond: Math.round(attacks / abusedSeconds),
      refusedShare: Math.round(refused / Math.max(attacks, 1) * 100) / 100,
      abuserCores: Math.round(abuserCpuSeconds / abusedSeconds * 100) / 100,
      seederPeakRssMiB: Math.round(await cluster.peakRss(seed) / MiB)
    }
  } finally {
    await cluster.stop()
  }
}
