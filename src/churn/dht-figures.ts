import { summarize } from './stats.js'
import type { Summary } from './stats.js'

/** One Prometheus sample: a metric's name, its labels and value. */
export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

/** The DHT as the peers running at the end of a churn run measured it (their `/metrics`). */
export interface DhtFigures {
  /** Peers whose metrics were read (those running at the end; a killed peer's counts went with it). */
  peers: number
  provide: { ok: number, failed: number, p50?: number, p95?: number }
  /** Provider lookups, timed to the first provider found: `successRate` = found / all. */
  find: { ok: number, empty: number, failed: number, successRate?: number, p50?: number, p95?: number }
  /** Peers in each routing table of Shoal's DHT. */
  routingTable: Summary & { min?: number }
  /** DHT RPCs per peer per second, over each peer's uptime. */
  messagesPerPeerPerSecond: { inbound: number, outbound: number }
}

/** Parse the Prometheus text format (the lines this harness needs: no escapes in label values). */
export function parseMetrics (text: string): PromSample[] {
  const out: PromSample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (m == null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]] = l[2]
    out.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return out
}

/**
 * A quantile of a histogram from its cumulative buckets (`le` → count), as
 * Prometheus's histogram_quantile computes it: linear within the bucket.
 */
export function bucketQuantile (q: number, buckets: Array<{ le: number, count: number }>): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le)
  const total = sorted.at(-1)?.count ?? 0
  if (total === 0) return undefined
  const rank = q * total
  let lower = 0
  let below = 0
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lower
      return lower + (b.le - lower) * (b.count === below ? 0 : (rank - below) / (b.count - below))
    }
    lower = b.le
    below = b.count
  }
  return lower
}

/**
 * The figures of every peer's metrics, read at `now` (seconds since the
 * epoch). Messages per second are over each peer's uptime, or over
 * `window` seconds for counters taken `since` an earlier reading.
 */
export function dhtFigures (perPeer: PromSample[][], now: number, window?: number): DhtFigures {
  const all = perPeer.flat()
  const count = (op: string, outcome: string): number => all
    .filter(s => s.name === 'shoal_routing_duration_seconds_count' && s.labels.op === op && s.labels.dht === 'shoal' && s.labels.outcome === outcome)
    .reduce((n, s) => n + s.value, 0)
  const quantiles = (op: string): { p50?: number, p95?: number } => {
    const byLe = new Map<number, number>()
    for (const s of all) {
      if (s.name !== 'shoal_routing_duration_seconds_bucket' || s.labels.op !== op || s.labels.dht !== 'shoal' || s.labels.outcome !== 'ok') continue
      const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le)
      byLe.set(le, (byLe.get(le) ?? 0) + s.value)
    }
    const buckets = [...byLe].map(([le, c]) => ({ le, count: c }))
    const round = (v: number | undefined): number | undefined => v == null ? undefined : Math.round(v * 1000) / 1000
    return { p50: round(bucketQuantile(0.5, buckets)), p95: round(bucketQuantile(0.95, buckets)) }
  }
  const find = { ok: count('find', 'ok'), empty: count('find', 'empty'), failed: count('find', 'error') }
  const lookups = find.ok + find.empty + find.failed
  const tables = perPeer.map(samples => samples.find(s => s.name === 'shoal_dht_routing_table_size')?.value).filter((v): v is number => v != null)
  const rate = (name: string): number => {
    const rates = perPeer.map(samples => {
      const started = samples.find(s => s.name === 'process_start_time_seconds')?.value
      const rpcs = samples.filter(s => s.name === name).reduce((n, s) => n + s.value, 0)
      const seconds = window ?? (started == null ? 0 : now - started)
      return seconds <= 0 ? undefined : rpcs / seconds
    }).filter((v): v is number => v != null)
    return rates.length === 0 ? 0 : Math.round(rates.reduce((a, b) => a + b, 0) / rates.length * 100) / 100
  }
  return {
    peers: perPeer.length,
    provide: { ok: count('provide', 'ok'), failed: count('provide', 'error'), ...quantiles('provide') },
    find: { ...find, successRate: lookups === 0 ? undefined : Math.round(find.ok / lookups * 1000) / 1000, ...quantiles('find') },
    routingTable: { ...summarize(tables), min: tables.length === 0 ? undefined : Math.min(...tables) },
    messagesPerPeerPerSecond: { inbound: rate('shoal_dht_inbound_rpc_requests_total'), outbound: rate('shoal_dht_outbound_rpc_requests_total') }
  }
}

/** What a peer's counters did between two readings (`after` − `before`, by name and labels); for a window of a run. */
export function since (before: PromSample[], after: PromSample[]): PromSample[] {
  const key = (s: PromSample): string => `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`
  const earlier = new Map(before.map(s => [key(s), s.value]))
  return after.map(s => ({ ...s, value: s.name.endsWith('_total') || s.name.endsWith('_bucket') || s.name.endsWith('_count') || s.name.endsWith('_sum') ? s.value - (earlier.get(key(s)) ?? 0) : s.value }))
}
