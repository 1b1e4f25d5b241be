/**
 * A duration as people read it, the one way Shoal says one (the CLI's
 * summaries and countdowns, the churn report, error messages): `120 ms`,
 * `1.5 s`, `15 s`, `1 min`, `1 min 05 s`, `2 h 05 min`. Under a second it counts
 * milliseconds (a quick fetch never reads `0 s`); under ten seconds tenths
 * (a whole number of seconds without its `.0`). `?` for what is not a duration.
 */
export function formatDuration (seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  const ms = Math.round(seconds * 1000)
  if (ms < 1000) return `${ms} ms`
  const tenths = Math.round(seconds * 10) / 10
  if (tenths < 10) return `${tenths} s`
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return s % 60 === 0 ? `${s / 60} min` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  const minutes = Math.round(s / 60)
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`
}
