import { formatDuration } from '../duration.js'
import type { ChurnReport } from './run-report.js'

function secs (v: number | undefined): string {
  return v == null ? '–' : formatDuration(v)
}

function mib (bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** The report as a table for people. */
export function formatReport (r: ChurnReport): string {
  const o = r.options
  const model = o.model === 'fixed' ? `fixed, one stop every ${o.interval} s` : `${o.model}, median session ${o.median} s${o.model === 'weibull' ? `, shape ${o.shape}` : ''}`
  const e = o.erasure
  const kept = e == null ? `K = ${o.replicas}` : `${e.k}+${e.m} erasure-coded (K = ${e.k + e.m} fragments wanted, ${e.k} needed)`
  const k = e == null ? o.replicas : e.k + e.m
  const rows: Array<[string, string]> = [
    ['peers', `${o.peers} (${r.peersStarted} started in all)`],
    ['files', `${o.files} × ${mib(o.fileSize)}, ${kept}`],
    ['churn', `${o.duration} s, ${model}; down ${o.downtime} s (median), at most ${o.maxDown} down, seed ${o.seed}`],
    ...(o.hosts != null ? [['hosts', `one lab host per peer${o.hosts.rate != null ? `, ${o.hosts.rate} each` : ''}${o.hosts.loss != null ? `, ${o.hosts.loss} % loss` : ''}; ${Math.round(o.partitionRatio * 100)} % of stops are partitions`] as [string, string]] : []),
    ['stops', `${r.events.kills} SIGKILL, ${r.events.gracefulStops} graceful${r.events.partitions > 0 ? `, ${r.events.partitions} partitions` : ''}; ${r.events.restarts} restarts, ${r.events.newPeers} new peers; ${r.events.skipped} put off (max down)`],
    ['fetches', `${r.fetches.ok} ok / ${r.fetches.ok + r.fetches.failed + r.fetches.corrupt} (${r.fetches.interrupted} interrupted by the harness stopping the peer)`],
    ['success rate', `${(r.successRate * 100).toFixed(1)} %`],
    ['fetch latency', `p50 ${secs(r.fetches.latency.p50)}, p95 ${secs(r.fetches.latency.p95)}, max ${secs(r.fetches.latency.max)}`],
    ['below K', `${r.repair.episodes} episodes (${r.repair.withDataMoved} repaired by copying, ${r.repair.unresolved} unresolved)`],
    ['repair time', `p50 ${secs(r.repair.p50)}, p95 ${secs(r.repair.p95)}, max ${secs(r.repair.max)}`],
    ['time below K', r.files.map(f => f.belowKSeconds.toFixed(0)).join(' ') + ' s per file'],
    [e == null ? 'no live copy' : `under ${e.k} fragments`, r.files.map(f => f.noCopySeconds.toFixed(0)).join(' ') + ' s per file'],
    [e == null ? 'most copies' : 'most fragments', r.files.map(f => f.maxCopies).join(' ') + ` per file (K = ${k})`],
    ['after settling', r.files.map(f => f.finalCopies).join(' ') + (r.settled ? ' (every file back at K)' : ' (not every file back at K in time)')],
    ['repair traffic', `${mib(r.bytesMovedByRepair)}; ${r.holdersLost} holders lost${r.repairBytesPerLostHolder == null ? '' : `, ${mib(r.repairBytesPerLostHolder)} per holder lost`}`],
    ['stored', `${r.storedPerLogicalByte} bytes in the repos per byte of the files (at the end)`],
    ...dhtRows(r),
    ['lost files', String(r.lost)],
    ['corrupt reads', String(r.corrupt)],
    ['run', `${r.seconds.toFixed(0)} s (${r.setupSeconds.toFixed(0)} s setup); files in ${r.dir}`]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

/** The DHT's figures, when the peers' metrics were read. */
function dhtRows (r: ChurnReport): Array<[string, string]> {
  const d = r.dht
  if (d == null) return []
  const rate = d.find.successRate == null ? '–' : `${(d.find.successRate * 100).toFixed(1)} %`
  return [
    ['DHT provide', `${d.provide.ok} ok, ${d.provide.failed} failed; p50 ${secs(d.provide.p50)}, p95 ${secs(d.provide.p95)}`],
    ['DHT find', `${d.find.ok} found, ${d.find.empty} empty, ${d.find.failed} failed (success ${rate}); first provider p50 ${secs(d.find.p50)}, p95 ${secs(d.find.p95)}`],
    ['routing tables', `min ${d.routingTable.min ?? '–'}, median ${d.routingTable.p50 ?? '–'}, max ${d.routingTable.max ?? '–'} peers`],
    ['DHT messages', `${d.messagesPerPeerPerSecond.inbound} in, ${d.messagesPerPeerPerSecond.outbound} out per peer per second (${d.peers} peers running at the end)`]
  ]
}
