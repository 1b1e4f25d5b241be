import { summarize } from './stats.js'
import type { ChurnOptions } from './options.js'
import type { Episode, ReplicaObserver, Sample, TrackedFile } from './observer.js'
import type { Summary } from './stats.js'
import type { DhtFigures } from './dht-figures.js'

export interface ChurnEvent {
  t: number
  kind: 'kill' | 'graceful' | 'restart' | 'new-peer' | 'partition' | 'heal'
  peer: string
}

export interface FetchRecord {
  t: number
  cid: string
  peer: string
  outcome: 'ok' | 'failed' | 'corrupt' | 'interrupted'
  seconds: number
  error?: string
}

export interface ChurnReport {
  options: Omit<ChurnOptions, 'log' | 'signal' | 'dir' | 'keep'>
  dir: string
  seconds: number
  setupSeconds: number
  peersStarted: number
  events: { kills: number, gracefulStops: number, partitions: number, restarts: number, newPeers: number, skipped: number, list: ChurnEvent[] }
  fetches: {
    attempts: number
    ok: number
    failed: number
    interrupted: number
    corrupt: number
    latency: Summary
    failures: FetchRecord[]
  }
  successRate: number
  lost: number
  corrupt: number
  repair: Summary & { episodes: number, withDataMoved: number, unresolved: number }
  /** Per file; `maxCopies`: the most complete copies seen at once, during the churn and the settling after it. */
  files: Array<{ cid: string, belowKSeconds: number, noCopySeconds: number, minCopies: number, maxCopies: number, finalCopies: number }>
  /** Every file ended at exactly K copies (surplus trimmed) within the settling time. */
  settled: boolean
  /** Samples where a running peer did not answer in time and its last answer was used. */
  lateAnswers: number
  bytesMovedByRepair: number
  /** Times a holder of a file stopped running during the churn (one peer holding three files: three). */
  holdersLost: number
  /** Repair traffic per holder lost (a copy moves its file; a fragment rebuilt moves K fragments of 1/K of it: its file too). */
  repairBytesPerLostHolder?: number
  /** Bytes the running peers' repos hold at the end, per byte of the files kept: about K for copies, (K + M) / K for fragments. */
  storedPerLogicalByte: number
  /** The DHT's figures, from the `/metrics` of the peers running at the end (loopback peers only). */
  dht?: DhtFigures
  timeline: Sample[]
  fetchLog: FetchRecord[]
}

/** What a churn run did, for its report. */
export interface RunRecord {
  options: ChurnOptions
  dir: string
  peersStarted: number
  events: ChurnEvent[]
  skipped: number
  files: TrackedFile[]
  fetchLog: FetchRecord[]
  dht?: DhtFigures
}

/** The report of a churn run: its events, the fetches, and what the observer saw of the copies. */
export function buildReport (run: RunRecord, observer: ReplicaObserver, finalCopies: number[], seconds: number, setupSeconds: number, settled: boolean, storedBytes = 0): ChurnReport {
  const logical = run.files.reduce((n, f) => n + f.size, 0)
  const { log: _log, signal: _signal, dir: _dir, keep: _keep, ...options } = run.options
  const counted = run.fetchLog.filter(f => f.outcome !== 'interrupted')
  const ok = counted.filter(f => f.outcome === 'ok')
  const corrupt = run.fetchLog.filter(f => f.outcome === 'corrupt').length
  const episodes: Episode[] = observer.episodes
  const lastFetchFailed = new Set(run.fetchLog.slice(-run.files.length).filter(f => f.outcome !== 'ok').map(f => f.cid))
  return {
    options,
    dir: run.dir,
    seconds,
    setupSeconds,
    peersStarted: run.peersStarted,
    events: {
      kills: run.events.filter(e => e.kind === 'kill').length,
      gracefulStops: run.events.filter(e => e.kind === 'graceful').length,
      partitions: run.events.filter(e => e.kind === 'partition').length,
      restarts: run.events.filter(e => e.kind === 'restart').length,
      newPeers: run.events.filter(e => e.kind === 'new-peer').length,
      skipped: run.skipped,
      list: run.events
    },
    fetches: {
      attempts: run.fetchLog.length,
      ok: ok.length,
      failed: counted.filter(f => f.outcome === 'failed').length,
      interrupted: run.fetchLog.length - counted.length,
      corrupt,
      latency: summarize(ok.map(f => f.seconds)),
      failures: counted.filter(f => f.outcome !== 'ok').slice(0, 20)
    },
    successRate: counted.length === 0 ? 0 : ok.length / counted.length,
    // lost: no complete copy on any live peer at the end, and the final read failed
    lost: run.files.filter((f, i) => finalCopies[i] < observer.needed && lastFetchFailed.has(f.cid)).length,
    corrupt,
    repair: {
      ...summarize(episodes.map(e => e.seconds)),
      episodes: episodes.length,
      withDataMoved: episodes.filter(e => e.repaired).length,
      unresolved: episodes.filter(e => e.unresolved).length
    },
    files: run.files.map((f, i) => ({
      cid: f.cid,
      belowKSeconds: Math.round(observer.belowK[i] * 10) / 10,
      noCopySeconds: Math.round(observer.noCopy[i] * 10) / 10,
      minCopies: Number.isFinite(observer.minCopies[i]) ? observer.minCopies[i] : finalCopies[i],
      maxCopies: Math.max(observer.maxCopies[i], finalCopies[i]),
      finalCopies: finalCopies[i]
    })),
    settled,
    lateAnswers: observer.lateAnswers,
    bytesMovedByRepair: observer.bytesMovedByRepair,
    holdersLost: observer.holdersLost,
    ...(observer.holdersLost > 0 ? { repairBytesPerLostHolder: Math.round(observer.bytesMovedByRepair / observer.holdersLost) } : {}),
    storedPerLogicalByte: logical === 0 ? 0 : Math.round(storedBytes / logical * 1000) / 1000,
    dht: run.dht,
    timeline: observer.samples,
    fetchLog: run.fetchLog
  }
}
