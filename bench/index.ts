/**
 * `npm run bench`: Shoal's transfer figures, each beside a baseline measured
 * in the same run (these machines are shared and noisy, so only ratios mean
 * something). Prints one JSON object on stdout and a table on stderr.
 *
 *   --only single,scaling,crowd,memory,abuse   which scenarios (default: all)
 *   --size MIB        single-source file size (default 256)
 *   --runs N          runs per single-source measurement (default 3)
 *   --rate BYTES      per-seeder upload limit for scaling (default 5000000)
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { flashCrowd, getUnderAbuse, memory, singleSource, swarmScaling } from './scenarios.js'

function arg (name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : fallback
}

const only = new Set(arg('only', 'single,scaling,crowd,memory,abuse').split(','))
const runs = Number(arg('runs', '3'))
const sizeMiB = Number(arg('size', '256'))
const rate = Number(arg('rate', '5000000'))

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shoal-bench-'))
const report: any = {
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  date: new Date().toISOString(),
  results: []
}
const lines: string[] = []
try {
  if (only.has('single')) {
    const r = await singleSource({ dir, runs, sizeMiB })
    report.results.push(r)
    lines.push(`single source, ${sizeMiB} MiB (median of ${runs})`,
      `  raw libp2p stream   ${r.rawStream.MBps} MB/s (baseline)`,
      `  helia bitswap       ${r.heliaBitswap.MBps} MB/s`,
      r.libtorrent.MBps != null ? `  libtorrent (qbt)    ${r.libtorrent.MBps} MB/s add-to-done over TCP` : `  libtorrent (qbt)    skipped: ${r.libtorrent.skipped}`,
      `  shoal fetch         ${r.shoalFetch.MBps} MB/s  = ${r.ratios.fetchVsRaw} x raw, ${r.ratios.fetchVsHelia} x helia`,
      `  shoal get (e2e)     ${r.shoalGet.MBps} MB/s  = ${r.ratios.getVsRaw} x raw, ${r.ratios.getVsHelia} x helia${r.ratios.getVsLibtorrent != null ? `, ${r.ratios.getVsLibtorrent} x libtorrent` : ''}`,
      `  disk used / size    ${r.disk.afterAdd.toFixed(3)} after add (seeder), ${r.disk.afterGet.toFixed(3)} after get (downloader)`)
  }
  if (only.has('scaling')) {
    const r = await swarmScaling({ dir, runs, sizeMiB: 96, rate, counts: [1, 2, 4, 8] })
    report.results.push(r)
    lines.push(`swarm scaling, 96 MiB, each seeder limited to ${rate / 1e6} MB/s`)
    for (const row of r.rows) lines.push(`  ${row.seeders} seeder(s)   ${row.MBps} MB/s of ${row.idealMBps} ideal = ${row.ofIdeal}`)
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
  }
  if (only.has('abuse')) {
    const r = await getUnderAbuse({ dir, runs, sizeMiB: 64 })
    report.results.push(r)
    lines.push('one get of 64 MiB while a hostile peer attacks the seeder',
      `  alone ${r.cleanMBps} MB/s (baseline); attacked ${r.abusedMBps} MB/s = ${r.ratio} x; ${r.attacksPerSecond} attacks/s (${r.refusedShare} refused), abuser used ${r.abuserCores} cores; seeder peak RSS ${r.seederPeakRssMiB} MiB`)
  }
} finally {
  await fs.rm(dir, { recursive: true, force: true })
}
process.stdout.write(JSON.stringify(report, null, 2) + '\n')
process.stderr.write('\n' + lines.join('\n') + '\n')
