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

export function formatDuration (seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  if (seconds < 60) return `${Math.round(seconds)}s`
  const m = Math.floor(seconds / 60)
  return `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`
}

export interface ProgressView {
  update(done: number, total: number, fields?: Record<string, string>): void
  stop(): void
}

/** A progress bar on stderr when it is a terminal; otherwise nothing. */
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
  return {
    update (done, total, fields = {}) {
      if (!started) {
        bar.start(Math.max(total, 1), done, fields)
        started = true
      } else {
        bar.setTotal(Math.max(total, 1))
        bar.update(done, fields)
      }
    },
    stop () {
      if (started) bar.stop()
      started = false
    }
  }
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
