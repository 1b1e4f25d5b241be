import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DaemonProcess, shoalOk, summaryOf } from '../test/helpers/cli.js'

export const MiB = 1024 * 1024

export function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

export function mbps (bytes: number, seconds: number): number {
  return Math.round(bytes / seconds / 1e6 * 10) / 10
}

export async function writeRandomFile (file: string, sizeMiB: number): Promise<void> {
  const handle = await fs.open(file, 'w')
  try {
    for (let i = 0; i < sizeMiB; i++) await handle.write(randomBytes(MiB))
  } finally {
    await handle.close()
  }
}

/** A memory figure of a process, in bytes, from /proc/PID/status. */
export async function procStatus (pid: number | undefined, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
}

/** Bytes of every file under `dir` (their sizes, as `du --apparent-size` counts them). */
export async function bytesUnder (dir: string): Promise<number> {
  let total = 0
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (entry.isFile()) total += (await fs.stat(path.join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size
  }
  return total
}

/** Daemons for one scenario, all stopped by `stop()`. */
export class Cluster {
  readonly daemons: DaemonProcess[] = []
  constructor (readonly dir: string) {}

  async start (name: string, args: string[] = []): Promise<DaemonProcess> {
    const d = await DaemonProcess.start(path.join(this.dir, name), args)
    this.daemons.push(d)
    return d
  }

  repo (name: string): string {
    return path.join(this.dir, name)
  }

  async add (name: string, file: string): Promise<string> {
    return JSON.parse((await shoalOk(['add', '--repo', this.repo(name), file, '--json'], { timeout: 600_000 })).stdout).cid
  }

  /**
   * `shoal get --json` on `name`; returns its summary, wall time, and the
   * bytes on that peer's disk once it is done (its repo's blocks and the
   * output, before the output is removed again).
   */
  async get (name: string, cid: string, extra: string[] = []): Promise<{ summary: any, wall: number, diskBytes: number }> {
    const out = path.join(this.dir, `out-${name}`)
    const start = performance.now()
    const r = await shoalOk(['get', '--repo', this.repo(name), cid, '-o', out, '--json', '--no-pin', ...extra], { timeout: 900_000 })
    const wall = (performance.now() - start) / 1000
    const diskBytes = await bytesUnder(this.repo(name)) + (await fs.stat(out)).size
    await fs.rm(out, { force: true })
    return { summary: summaryOf(r), wall, diskBytes }
  }

  /** Peak resident memory of a daemon so far (bytes), from /proc. */
  async peakRss (d: DaemonProcess): Promise<number> {
    return await procStatus(d.child.pid, 'VmHWM')
  }

  /** Resident memory of a daemon now (bytes). */
  async rss (d: DaemonProcess): Promise<number> {
    return await procStatus(d.child.pid, 'VmRSS')
  }

  async stop (): Promise<void> {
    await Promise.all(this.daemons.map(async d => await d.kill('SIGTERM')))
    this.daemons.length = 0
  }
}
