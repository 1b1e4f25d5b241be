import fs from 'node:fs/promises'

/** A process's resident memory now, and at its peak (bytes), from /proc. */
export async function memoryOf (pid: number): Promise<{ rss: number, peak: number }> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS'), peak: kb('VmHWM') }
}

/** CPU time a process has used so far (user + system, seconds), from /proc. */
export async function cpuSecondsOf (pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  // the fields after the command name, which may hold spaces: utime and stime are the 12th and 13th
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}
