/**
 * `npm run bench`: throughput of a single-source `shoal get` between two
 * daemons on loopback, beside the ceiling of the same libp2p stack measured
 * in the same run (a plain stream of the same number of bytes over
 * TCP + noise + yamux between two processes). Prints JSON on stdout and a
 * table on stderr. Options: --size MIB (default 256), --runs N (default 3).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { DaemonProcess, shoalOk } from '../test/helpers/cli.js'
import { RAW_PROTOCOL } from './constants.js'

const MiB = 1024 * 1024

function arg (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** Seconds to pull `bytes` over one plain libp2p stream from a child-process peer. */
async function rawStream (sizeMiB: number, runs: number): Promise<number[]> {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const child = spawn(process.execPath, [path.join(here, 'raw-peer.js'), '127.0.0.20'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const first = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', d => { resolve(d.toString()) })
    child.once('exit', code => { reject(new Error(`raw peer exited ${code}`)) })
  })
  const { addresses } = JSON.parse(first)
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
      const stream = await client.dialProtocol(multiaddr(addresses[0]), RAW_PROTOCOL)
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
    child.kill('SIGTERM')
  }
  return times
}

interface ShoalRun { fetchSeconds: number, totalSeconds: number }

/** Seconds for `shoal get` of a file of `sizeMiB` from one seeder daemon. */
async function shoalGet (dir: string, sizeMiB: number, runs: number): Promise<ShoalRun[]> {
  const seedRepo = path.join(dir, 'seed')
  const seed = await DaemonProcess.start(seedRepo)
  const input = path.join(dir, 'input')
  const handle = await fs.open(input, 'w')
  for (let i = 0; i < sizeMiB; i++) await handle.write(randomBytes(MiB))
  await handle.close()
  const { cid } = JSON.parse((await shoalOk(['add', '--repo', seedRepo, input, '--json'])).stdout)
  const results: ShoalRun[] = []
  try {
    for (let r = 0; r < runs; r++) {
      const repo = path.join(dir, `leech-${r}`)
      const leech = await DaemonProcess.start(repo, ['--bootstrap', seed.addresses[0]])
      try {
        const out = path.join(dir, `out-${r}`)
        const start = performance.now()
        const got = await shoalOk(['get', '--repo', repo, cid, '-o', out, '--json', '--no-pin'], { timeout: 600_000 })
        const totalSeconds = (performance.now() - start) / 1000
        const summary = JSON.parse(got.stdout.trim().split('\n').pop()!)
        if (summary.bytesFetched < sizeMiB * MiB) throw new Error(`fetched only ${summary.bytesFetched} bytes`)
        results.push({ fetchSeconds: summary.seconds, totalSeconds })
        await fs.rm(out)
      } finally {
        await leech.kill('SIGTERM')
        await fs.rm(repo, { recursive: true, force: true })
      }
    }
  } finally {
    await seed.kill('SIGTERM')
  }
  return results
}

async function main (): Promise<void> {
  const sizeMiB = arg('size', 256)
  const runs = arg('runs', 3)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shoal-bench-'))
  try {
    const raw = await rawStream(sizeMiB, runs)
    const shoal = await shoalGet(dir, sizeMiB, runs)
    const mb = (s: number): number => Math.round(sizeMiB * MiB / s / 1e6 * 10) / 10
    const rawMBps = mb(median(raw))
    const fetchMBps = mb(median(shoal.map(r => r.fetchSeconds)))
    const totalMBps = mb(median(shoal.map(r => r.totalSeconds)))
    const report = {
      benchmark: 'single-source get',
      machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      bytes: sizeMiB * MiB,
      runs,
      baseline: { name: 'raw libp2p stream (TCP+noise+yamux, 1 MiB writes, two processes)', MBps: rawMBps, seconds: raw },
      shoal: {
        fetch: { MBps: fetchMBps, seconds: shoal.map(r => r.fetchSeconds), what: 'fetch, verify and store every block' },
        endToEnd: { MBps: totalMBps, seconds: shoal.map(r => r.totalSeconds), what: 'whole `shoal get` command, including writing the output file' }
      },
      ratio: {
        fetchVsRaw: Math.round(fetchMBps / rawMBps * 100) / 100,
        endToEndVsRaw: Math.round(totalMBps / rawMBps * 100) / 100
      }
    }
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    process.stderr.write([
      '',
      `single-source get of ${sizeMiB} MiB (median of ${runs})`,
      `  raw libp2p stream   ${String(rawMBps).padStart(7)} MB/s   (baseline)`,
      `  shoal fetch         ${String(fetchMBps).padStart(7)} MB/s   ${report.ratio.fetchVsRaw} x baseline`,
      `  shoal get (e2e)     ${String(totalMBps).padStart(7)} MB/s   ${report.ratio.endToEndVsRaw} x baseline`,
      ''
    ].join('\n'))
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

await main()
