/**
 * `npm run bench`: Shoal's transfer figures, each beside a baseline measured
 * in the same run (these machines are shared and noisy, so only ratios mean
 * something). Prints one JSON object on stdout and a table on stderr.
 *
 *   --only single,scaling,crowd,memory,abuse,erasure   which scenarios (default: all)
 *   --size MIB        single-source file size (default 256)
 *   --runs N          runs per single-source measurement (default 3)
 *   --rate BYTES      per-seeder upload limit for scaling (default 5000000)
 *   --pin MODES       single source with cores shared, each peer pinned to its
 *                     own core (taskset), or both (default: shared,pinned)
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { erasureRates } from './erasure.js'
import { Goals } from './goals.js'
import { canPin } from './process.js'
import { flashCrowd, getUnderAbuse, memory, singleSource, swarmScaling } from './scenarios.js'

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}

const only = new Set(arg('only', 'single,scaling,crowd,memory,abuse,erasure').split(','))
const runs = Number(arg('runs', '3'))
const sizeMiB = Number(arg('size', '256'))
const rate = Number(arg('rate', '5000000'))
const pinModes = arg('pin', 'shared,pinned').split(',')

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shoal-bench-'))
const report: any = {
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  date: new Date().toISOString(),
  results: [],
  goals: []
}
const lines: string[] = []
const goals = new Goals()
const cpu = (f: any): string => `${f.cpuPerGiB.sender} + ${f.cpuPerGiB.receiver} CPU-s/GiB`
const row = (name: string, f: any, extra = ''): string => `  ${name.padEnd(28)} ${String(f.MBps).padStart(6)} MB/s  ${cpu(f).padEnd(26)} ${extra}`
try {
  if (only.has('single')) {
    for (const mode of pinModes) {
      const pinned = mode === 'pinned'
      if (pinned && !await canPin()) {
        lines.push('single source, pinned: skipped (needs taskset, and cores 0 and 1)')
        continue
      }
      const r = await singleSource({ dir, runs, sizeMiB, pinned })
      report.results.push(r)
      const bt = r.libtorrent.MBps != null ? r.libtorrent : undefined
      lines.push(`single source, ${sizeMiB} MiB, ${pinned ? 'each peer pinned to its own core' : 'cores shared'} (median of ${runs}; CPU: sender + receiver)`,
        row('raw stream, Shoal transport', r.rawStream.shoal, '(baseline: TLS, daemon flags)'),
        row('raw stream, noise cached key', r.rawStream.noise),
        row('raw stream, stock noise', r.rawStream['stock-noise'], `(Shoal's transport: ${r.ratios.shoalTransportVsStockNoise} x this)`),
        row('raw, stock noise, bare node', r.rawStream['stock-noise-bare-node'], '(the old baseline: no daemon flags)'),
        row('helia bitswap', r.heliaBitswap),
        bt != null ? row('libtorrent (qbt), TCP', bt, 'add to done') : `  libtorrent (qbt)              skipped: ${r.libtorrent.skipped}`,
        row('shoal fetch', r.shoalFetch, `= ${r.ratios.fetchVsRaw} x raw, ${r.ratios.fetchVsHelia} x helia`),
        row('shoal get (e2e)', r.shoalGet, `= ${r.ratios.getVsRaw} x raw, ${r.ratios.getVsHelia} x helia${bt != null ? `, ${r.ratios.getVsLibtorrent} x libtorrent` : ''}`),
        `  disk used / size             ${r.disk.afterAdd.toFixed(3)} after add (seeder), ${r.disk.afterGet.toFixed(3)} after get (downloader)`)
      const where = pinned ? 'pinned' : 'shared'
      if (bt != null) goals.add(`shoal get vs libtorrent add-to-done (${where})`, r.ratios.getVsLibtorrent, 1.3, `${r.shoalGet.MBps} vs ${bt.MBps} MB/s`)
      goals.add(`shoal get vs Helia bitswap (${where})`, r.ratios.getVsHelia, 3, `${r.shoalGet.MBps} vs ${r.heliaBitswap.MBps} MB/s`)
      goals.add(`shoal fetch vs raw stream, same flags (${where})`, r.ratios.fetchVsRaw, 0.8, `${r.shoalFetch.MBps} vs ${r.rawStream.shoal.MBps} MB/s`)
    }
  }
  if (only.has('scaling')) {
    const r = await swarmScaling({ dir, runs, sizeMiB: 96, rate, counts: [1, 2, 4, 8] })
    report.results.push(r)
    lines.push(`swarm scaling, 96 MiB, each seeder limited to ${rate / 1e6} MB/s`)
    for (const row of r.rows) lines.push(`  ${row.seeders} seeder(s)   ${row.MBps} MB/s of ${row.idealMBps} ideal = ${row.ofIdeal}`)
    const most = r.rows[r.rows.length - 1]
    goals.add(`${most.seeders} seeders limited to R each vs ${most.seeders} R`, most.ofIdeal, 0.85, `${most.MBps} of ${most.idealMBps} MB/s`)
  }
  if (only.has('crowd')) {
    const r = await flashCrowd({ dir, runs, sizeMiB: 32, rate: 4_000_000, downloaders: 8 })
    report.results.push(r)
    lines.push('flash crowd, 32 MiB, 1 seeder at 4 MB/s, 8 downloaders',
      `  all done in ${r.seconds} s; seeder alone serving 8 copies: ${r.baselineSeconds} s; speedup ${r.speedup}; seeder sent ${r.seederShare} of the bytes`)
  }
  if (only.has('memory')) {
    const r = await memory({ dir, runs, smallMiB: 256, largeMiB: 1024 })
    report.results.push(r)
    lines.push('memory of the downloading daemon',
      `  idle daemon         ${r.rows[0].idleRssMiB} MiB RSS (a bare libp2p peer: ${r.bareLibp2pMiB} MiB, a bare Node process: ${r.bareNodeMiB} MiB)`,
      ...r.rows.map((row: any) => `  ${row.MiB} MiB file   peak RSS ${row.peakRssMiB} MiB`),
      `  1 GiB / 256 MiB = ${r.largeOverSmall}`)
    goals.add('downloading daemon\'s peak RSS, 1 GiB file vs 256 MiB', r.largeOverSmall, 1.15, `${r.rows[1].peakRssMiB} vs ${r.rows[0].peakRssMiB} MiB`, 'at most')
  }
  if (only.has('abuse')) {
    const r = await getUnderAbuse({ dir, runs, sizeMiB: 64 })
    report.results.push(r)
    lines.push('one get of 64 MiB while a hostile peer attacks the seeder',
      `  alone ${r.cleanMBps} MB/s (baseline); attacked ${r.abusedMBps} MB/s = ${r.ratio} x; ${r.attacksPerSecond} attacks/s (${r.refusedShare} refused), abuser used ${r.abuserCores} cores; seeder peak RSS ${r.seederPeakRssMiB} MiB`)
  }
  if (only.has('erasure')) {
    const r = await erasureRates({ schemes: [{ k: 4, m: 2 }, { k: 10, m: 4 }], stripes: 8, runs: Math.max(runs, 3) })
    report.results.push(r)
    lines.push('erasure coding, one thread (MB/s of file data; baseline: SHA-256 of the same bytes)',
      ...r.rows.map((row: any) => `  ${row.scheme.padEnd(5)} encode ${String(row.encodeMBps).padStart(5)} MB/s = ${row.encodeOverSha256} x SHA-256${row.rustWasmEncodeMBps == null ? '' : ` (${row.encodeOverRustWasm} x the Rust crate as WebAssembly, ${row.rustWasmEncodeMBps} MB/s)`}, decode (M leaves lost) ${String(row.decodeMBps).padStart(5)} MB/s = ${row.decodeOverSha256} x; SHA-256 ${row.sha256MBps} MB/s`))
  }
} finally {
  await fs.rm(dir, { recursive: true, force: true })
}
report.goals = goals.list
lines.push('goals (each a ratio to its baseline in this run)', ...goals.lines())
process.stdout.write(JSON.stringify(report, null, 2) + '\n')
process.stderr.write('\n' + lines.join('\n') + '\n')
