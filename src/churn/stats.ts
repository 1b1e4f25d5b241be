/** Percentile by linear interpolation between closest ranks (`p` in 0–100); undefined for no values. */
export function percentile (values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const rank = (p / 100) * (sorted.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo)
}

export interface Summary {
  count: number
  p50?: number
  p95?: number
  max?: number
}

/** Count, median, 95th percentile and maximum, rounded to milliseconds when given seconds. */
export function summarize (values: number[]): Summary {
  const round = (v: number | undefined): number | undefined => v == null ? undefined : Math.round(v * 1000) / 1000
  return {
    count: values.length,
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    max: round(values.length === 0 ? undefined : Math.max(...values))
  }
}
