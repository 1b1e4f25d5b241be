import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { unixfs } from '@helia/unixfs'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { shoalOk } from '../test/helpers/cli.js'
import { Abuser } from '../test/helpers/abuser.js'
import { DAEMON_NODE_FLAGS } from '../src/daemon/constants.js'
import { RAW_PROTOCOL } from './constants.js'
import { createBenchHelia } from './helia/node.js'
import { Cluster, bytesUnder, MiB, mbps, median, procStatus, writeRandomFile } from './lib.js'

const here = path.dirname(fileURLToPath(import.meta.url))
/** How long a daemon is left alone before its idle memory is read (ms). */
const IDLE_SETTLE = 3000

/** Start a child process script and read its first stdout line as JSON. */
async function child (script: string, args: string[], nodeFlags: string[] = []): Promise<{ info: any, pid: number | undefined, stop(): void }> {
  const proc = spawn(process.execPath, [...nodeFlags, path.join(here, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    let buf = ''
    proc.stdout.on('data', d => {
      buf += d
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')))
    })
    proc.once('exit', code => { reject(new Error(`${script} exited ${code}`)) })
  })
  return { info: JSON.parse(line), pid: proc.pid, stop: () => { proc.kill('SIGTERM') } }
}

/** Seconds to pull `sizeMiB` over one plain libp2p stream from a child-process peer. */
async function rawStream (sizeMiB: number, runs: number): Promise<number[]> {
  const peer = await child('raw-peer.js', ['127.0.0.20'])
  const client = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.21/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  const times: number[] = []
  try {
    for (let r = 0; r < runs; r++) {
      const start = performance.now()
      const stream = await client.dialProtocol(multiaddr(peer.info.addresses[0]), RAW_PROTOCOL)
      const ask = new Uint8Array(4)
      new DataView(ask.buffer).setUint32(0, sizeMiB)
      stream.send(ask)
      let received = 0
      for await (const buf of stream) received += buf.byteLength
      if (received !== sizeMiB * MiB) throw new Error(`raw stream moved ${received} bytes`)
      times.push((performance.now() - start) / 1000)
    }
  } finally {
    await client.stop()
    peer.stop()
  }
  return times
}

/** Seconds for Helia (bitswap) to fetch and read the same file between two nodes. */
async function heliaBitswap (dir: string, input: string, runs: number): Promise<number[]> {
  const provider = await child('helia/provider.js', [input, path.join(dir, 'helia-provider')])
  const times: number[] = []
  try {
    for (let r = 0; r < runs; r++) {
      const blocks = path.join(dir, `helia-client-${r}`)
      const helia = await createBenchHelia('/ip4/127.0.0.23/tcp/0', blocks)
      try {
        await helia.libp2p.dial(multiaddr(provider.info.addresses[0]))
        const start = performance.now()
        let bytes = 0
        for await (const chunk of unixfs(helia).cat(CID.parse(provider.info.cid))) bytes += chunk.byteLength
        times.push((performance.now() - start) / 1000)
        const st = await fs.stat(input)
        if (bytes !== st.size) throw new Error(`helia read ${bytes} bytes`)
      } finally {
        await helia.stop()
        await fs.rm(blocks, { recursive: true, force: true })
      }
    }
  } finally {
    provider.stop()
  }
  return times
}

/**
 * Seconds for libtorrent (qbittorrent-nox, the Debian package) to move the
 * same size between two instances on loopback over TCP, from adding the
 * torrent on the leecher to every piece verified (`bittorrent/bt-bench.sh`).
 * Undefined, with why, when qbittorrent-nox or mktorrent is not installed.
 */
async function libtorrent (sizeMiB: number, runs: number): Promise<{ seconds: number[], runs: any[] } | { missing: string }> {
  const script = path.join(here, '..', '..', 'bench', 'bittorrent', 'bt-bench.sh')
  const found = await Promise.all(['qbittorrent-nox', 'mktorrent'].map(async bin => await new Promise<boolean>(resolve => {
    spawn('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).once('exit', code => { resolve(code === 0) })
  })))
  if (found.includes(false)) return { missing: 'qbittorrent-nox or mktorrent is not installed (apt-get install qbittorrent-nox mktorrent)' }
  const results = []
  for (let r = 0; r < runs; r++) {
    const line = await new Promise<string>((resolve, reject) => {
      const proc = spawn('bash', [script, String(sizeMiB)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, BT_PROTOCOL: '1' } })
      let buf = ''
      proc.stdout.on('data', d => { buf += d })
      proc.once('exit', code => { code === 0 ? resolve(buf.trim().split('\n').pop()!) : reject(new Error(`bt-bench.sh exited ${code}: ${buf}`)) })
    })
    results.push(JSON.parse(line))
  }
  return { seconds: results.map(r => r.seconds), runs: results }
}

export interface ScenarioOptions { dir: string, runs: number }

/** One seeder, one downloader: Shoal beside the raw stack and Helia's bitswap. */
export async function singleSource (o: ScenarioOptions & { sizeMiB: number }): Promise<any> {
  const input = path.join(o.dir, 'single-input')
  await writeRandomFile(input, o.sizeMiB)
  const bytes = o.sizeMiB * MiB
  const raw = await rawStream(o.sizeMiB, o.runs)
  const helia = await heliaBitswap(o.dir, input, o.runs)
  const bt = await libtorrent(o.sizeMiB, o.runs)
  const cluster = new Cluster(path.join(o.dir, 'single'))
  const fetch: number[] = []
  const wall: number[] = []
  let seedDisk = 0
  let leechDisk = 0
  try {
    await cluster.start('seed')
    const cid = await cluster.add('seed', input)
    // the user's file and the repo's blocks: what sharing the file costs on disk
    seedDisk = bytes + await bytesUnder(cluster.repo('seed'))
    for (let r = 0; r < o.runs; r++) {
      const leech = await cluster.start(`leech-${r}`, ['--bootstrap', cluster.daemons[0].addresses[0]])
      const got = await cluster.get(`leech-${r}`, cid)
      fetch.push(got.summary.seconds)
      wall.push(got.wall)
      leechDisk = got.diskBytes
      await leech.kill('SIGTERM')
    }
  } finally {
    await cluster.stop()
  }
  const rawMBps = mbps(bytes, median(raw))
  const heliaMBps = mbps(bytes, median(helia))
  const fetchMBps = mbps(bytes, median(fetch))
  const e2eMBps = mbps(bytes, median(wall))
  const btMBps = 'seconds' in bt ? mbps(bytes, median(bt.seconds)) : undefined
  return {
    scenario: 'single-source',
    bytes,
    runs: o.runs,
    rawStream: { MBps: rawMBps, seconds: raw, what: 'one plain libp2p stream, TCP+noise+yamux, 1 MiB writes, two processes' },
    heliaBitswap: { MBps: heliaMBps, seconds: helia, what: 'Helia 7 bitswap, same file and 1 MiB chunks, two processes, cat to the end' },
    shoalFetch: { MBps: fetchMBps, seconds: fetch, what: 'fetch, verify and store every block' },
    libtorrent: 'seconds' in bt
      ? { MBps: btMBps, seconds: bt.seconds, what: 'qbittorrent-nox (libtorrent) seeder to leecher on loopback, TCP, its default encryption setting: from adding the torrent to every piece verified', transport: bt.runs.map(r => `${r.transport} ${r.peerFlags}`), firstByteToDoneMBps: bt.runs.map(r => r.firstByteToDoneMBps) }
      : { skipped: bt.missing },
    shoalGet: { MBps: e2eMBps, seconds: wall, what: 'whole `shoal get` (the CLI process), including writing and syncing the output file' },
    disk: {
      afterAdd: Math.round(seedDisk / bytes * 1000) / 1000,
      afterGet: Math.round(leechDisk / bytes * 1000) / 1000,
      what: 'bytes on the peer\'s disk (the file, and the whole repo: blocks, packs, datastore) over the file size: after `add` on the seeder, after `get` on a downloader'
    },
    ratios: {
      fetchVsRaw: Math.round(fetchMBps / rawMBps * 100) / 100,
      getVsRaw: Math.round(e2eMBps / rawMBps * 100) / 100,
      fetchVsHelia: Math.round(fetchMBps / heliaMBps * 100) / 100,
      getVsHelia: Math.round(e2eMBps / heliaMBps * 100) / 100,
      getVsLibtorrent: btMBps == null ? undefined : Math.round(e2eMBps / btMBps * 100) / 100
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
