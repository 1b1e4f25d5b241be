import { execFileSync } from 'node:child_process'
import fs from 'node:fs/promises'

/** Clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

/** How often RSS is read while work runs (ms). */
const SAMPLE_INTERVAL = 50

/** CPU time (user + system, in seconds) a process has used so far, from /proc/<pid>/stat. */
export async function cpuSeconds (pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  // after the command name (which may hold spaces): state is field 3; utime and stime are fields 14 and 15
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
}

/** A process's resident memory now (bytes), from /proc/<pid>/status. */
export async function rssOf (pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** The most resident memory a process has had in its life (bytes), from /proc/<pid>/status. */
export async function peakRssOf (pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

/** What a process spent while some work ran. */
export interface Usage {
  seconds: number
  /** CPU used, in cores (1 = one core busy all the time). */
  cores: number
  /** Resident memory at the start, and the most seen while the work ran (MiB). */
  rssBefore: number
  rssPeak: number
}

/** Run `work` and measure the process `pid` meanwhile: CPU from its stat, RSS read every 50 ms. */
export async function usageDuring (pid: number, work: () => Promise<void>): Promise<Usage> {
  const rssBefore = await rssOf(pid)
  let rssPeak = rssBefore
  let sampling = Promise.resolve()
  const timer = setInterval(() => {
    sampling = sampling.then(async () => { rssPeak = Math.max(rssPeak, await rssOf(pid)) }).catch(() => {})
  }, SAMPLE_INTERVAL)
  const cpuBefore = await cpuSeconds(pid)
  const started = performance.now()
  try {
    await work()
  } finally {
    clearInterval(timer)
  }
  const seconds = (performance.now() - started) / 1000
  const cpu = await cpuSeconds(pid) - cpuBefore
  await sampling
  rssPeak = Math.max(rssPeak, await rssOf(pid))
  return { seconds, cores: cpu / seconds, rssBefore: rssBefore / 2 ** 20, rssPeak: rssPeak / 2 ** 20 }
}

/** One line for the record: a flood's figures beside the honest baseline's. */
export function figures (name: string, baseline: Usage, flood: Usage, extra = ''): string {
  const one = (u: Usage): string => `${u.seconds.toFixed(1)} s, CPU ${(u.cores * 100).toFixed(0)} % of a core, peak RSS ${u.rssPeak.toFixed(0)} MiB`
  return `      ${name}: honest get alone ${one(baseline)}; under the flood ${one(flood)}${extra === '' ? '' : `; ${extra}`}`
}
