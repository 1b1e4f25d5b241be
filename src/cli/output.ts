import cliProgress from 'cli-progress'

/**
 * Everything the CLI prints goes through here: results on stdout, notes and
 * errors on stderr, progress bars only when stderr is a terminal.
 */
export const out = {
  /** A result line on stdout. */
  line (text: string): void {
    process.stdout.write(text + '\n')
  },
  /** One JSON object (or NDJSON event) on stdout. */
  json (value: unknown): void {
    process.stdout.write(JSON.stringify(value) + '\n')
  },
  /** A note for the human on stderr. */
  note (text: string): void {
    process.stderr.write(text + '\n')
  },
  /** A one-line error on stderr. */
  error (text: string): void {
    process.stderr.write(`shoal: ${text}\n`)
  }
}

/**
 * A reader that closed stdout (`shoal stat | head -1`) ends the command
 * quietly: what it wanted it has, and a stack trace would help nobody.
 */
export function endQuietlyOnClosedStdout (): void {
  process.stdout.on('error', (err: any) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw err
  })
}

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}

export interface ProgressView {
  update(done: number, total: number, fields?: Record<string, string>): void
  stop(): void
}

/** Show the cursor and turn line wrapping back on (what a progress bar turned off). */
const RESTORE_TERMINAL = '\x1b[?25h\x1b[?7h'

/**
 * A progress bar on stderr when it is a terminal; otherwise nothing. The
 * terminal is restored (cursor shown, lines wrapped) when the bar stops and,
 * whatever happens, when the process exits.
 */
export function progressBar (format: string, enabled: boolean): ProgressView {
  if (!enabled || process.stderr.isTTY !== true) {
    return { update () {}, stop () {} }
  }
  const bar = new cliProgress.SingleBar({
    format,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
    barsize: 30,
    etaBuffer: 50
  }, cliProgress.Presets.shades_classic)
  let started = false
  const restore = (): void => { process.stderr.write(RESTORE_TERMINAL) }
  return {
    update (done, total, fields = {}) {
      if (!started) {
        bar.start(Math.max(total, 1), done, fields)
        process.once('exit', restore)
        started = true
      } else {
        bar.setTotal(Math.max(total, 1))
        bar.update(done, fields)
      }
    },
    stop () {
      if (!started) return
      bar.stop()
      process.off('exit', restore)
      restore()
      started = false
    }
  }
}

/** "1 peer", "2 peers". */
export function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Measures a rate over the last few seconds, for progress displays. */
export class RateMeter {
  private readonly samples: Array<{ t: number, v: number }> = []
  constructor (private readonly windowMs = 3000) {}

  add (value: number): number {
    const t = Date.now()
    this.samples.push({ t, v: value })
    while (this.samples.length > 2 && t - this.samples[0].t > this.windowMs) this.samples.shift()
    const first = this.samples[0]
    const dt = (t - first.t) / 1000
    return dt > 0 ? (value - first.v) / dt : 0
  }
}
