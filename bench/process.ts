/** What the benchmark reads of and does to another process: its CPU time, and which core it runs on. */
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)
/** Clock ticks per second of /proc/PID/stat's times (USER_HZ). */
let ticks: number | undefined

async function clockTicks (): Promise<number> {
  ticks ??= Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100
  return ticks
}

/** User + system CPU-seconds a process has used so far (all its threads), from /proc. */
export async function cpuSeconds (pid: number | undefined): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / await clockTicks()
}

/**
 * Moves every thread of a running process onto `cores` (`taskset -a -p`);
 * the threads it starts later inherit it. A stand-in for separate machines:
 * each peer on its own core.
 */
export async function pinTo (pid: number | undefined, cores: string): Promise<void> {
  if (pid == null) return
  await run('taskset', ['-a', '-p', '-c', cores, String(pid)])
}

/** The cores a process may run on, as `taskset -c` lists them ("0-3,6"). */
export async function coresOf (pid: number): Promise<string> {
  const { stdout } = await run('taskset', ['-c', '-p', String(pid)])
  return stdout.slice(stdout.lastIndexOf(':') + 1).trim()
}

/** Whether `taskset` (util-linux) is here and this process may run on cores 0 and 1, the two a pinned run uses. */
export async function canPin (): Promise<boolean> {
  const cores = await coresOf(process.pid).catch(() => '')
  const allowed = new Set(cores.split(',').flatMap(range => {
    const [from, to] = range.split('-').map(Number)
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i)
  }))
  return allowed.has(0) && allowed.has(1)
}
