import type { ChurnModelName } from './model.js'

/** What one churn run does (the `shoal churn` flags). */
export interface ChurnOptions {
  peers: number
  files: number
  fileSize: number
  replicas: number
  /** Keep each file erasure-coded instead of in `replicas` copies: K data and M parity fragments. */
  erasure?: { k: number, m: number }
  /** Seconds of churn. */
  duration: number
  model: ChurnModelName
  /** fixed model: seconds between stops. */
  interval: number
  /** exponential/weibull: median session (seconds); weibull shape. */
  median: number
  shape: number
  /** Median seconds a stopped peer stays down. */
  downtime: number
  maxDown: number
  /** Share of stops that are SIGKILL (the rest are graceful: SIGTERM, hand-over). */
  killRatio: number
  /** Share of restarts that bring a brand-new peer (new identity, empty repo) instead. */
  newRatio: number
  seed: number
  /** Daemon settings (seconds): liveness probe interval and grace period. */
  checkInterval: number
  gracePeriod: number
  /** Fetch loops running at once. */
  fetchers: number
  /** Run every peer on its own lab host (a network namespace with its own address; root needed), with this profile. */
  hosts?: { rate?: string, loss?: number }
  /** With `hosts`: share of stops that are partitions (the host cut off, its daemon left running). */
  partitionRatio: number
  /** Where the repos, logs, report.json and chart.svg go (a new temp dir if unset). */
  dir?: string
  /** Keep the repos afterwards. */
  keep: boolean
  log(line: string): void
  signal?: AbortSignal
}
