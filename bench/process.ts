/** What the benchmark reads of and does to another process: its CPU time, and which core it runs on. */
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import { promisify } from 'node:util'

const run = promisify(execFile)
/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on Linux). */
const TICKS = 100

/** User + system CPU-seconds a process has used so far (all its threads), from /proc. */
export async function cpuSeconds (pid: number | undefined): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS
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

/** Whether `taskset` (util-linux) is here and this machine has two cores to give. */
export async function canPin (cores: number): Promise<boolean> {
  return cores >= 2 && await run('taskset', ['-p', String(process.pid)]).then(() => true, () => false)
}
