import { formatBytes, formatDuration } from './output.js'
import type { TransfersView } from '../node/peer-ops.js'
import type { ReplicaStatus } from '../replication/status-view.js'

/** One reading of the daemon: what moves, and the replicas it knows of. */
export interface TopSample {
  at: number
  transfers: TransfersView
  replicas: ReplicaStatus[]
}

/** A running download with its rate over the last interval and the time left at that rate. */
interface TopDownload {
  root: string
  name: string
  purpose: string
  bytesDone: number
  bytesTotal: number
  /** Bytes per second over the last interval. */
  rate: number
  /** Seconds left at that rate (undefined while it is not known or not moving). */
  eta?: number
  peers: number
}

export interface TopView {
  downloads: TopDownload[]
  peers: Array<{ peerId: string, up: number, down: number }>
  up: number
  down: number
  activeUploads: number
  replicas: Array<{ cid: string, health: string, copies: number, wanted: number }>
}

/** Rates between two readings `prev` → `now` (a first reading has none). */
export function topView (prev: TopSample | undefined, now: TopSample): TopView {
  const seconds = prev == null ? 0 : (now.at - prev.at) / 1000
  const rate = (a: number, b: number | undefined): number => seconds > 0 && b != null ? Math.max(0, (a - b) / seconds) : 0
  const before = new Map(prev?.transfers.downloads.map(d => [`${d.root} ${d.purpose} ${d.startedAt}`, d]))
  const downloads = now.transfers.downloads.map(d => {
    const r = rate(d.bytesFetched, before.get(`${d.root} ${d.purpose} ${d.startedAt}`)?.bytesFetched)
    const left = d.bytesTotal - d.bytesDone
    return { root: d.root, name: d.name ?? d.root, purpose: d.purpose, bytesDone: d.bytesDone, bytesTotal: d.bytesTotal, rate: r, eta: r > 0 && d.bytesTotal > 0 ? left / r : undefined, peers: d.peers }
  })
  const peersBefore = new Map(prev?.transfers.peers.map(p => [p.peerId, p]))
  const peers = now.transfers.peers.map(p => {
    const b = peersBefore.get(p.peerId)
    return { peerId: p.peerId, up: rate(p.bytesSent, b?.bytesSent), down: rate(p.bytesReceived, b?.bytesReceived) }
  }).sort((a, b) => (b.up + b.down) - (a.up + a.down) || a.peerId.localeCompare(b.peerId))
  return {
    downloads,
    peers,
    up: rate(now.transfers.bytesSent, prev?.transfers.bytesSent),
    down: rate(now.transfers.bytesReceived, prev?.transfers.bytesReceived),
    activeUploads: now.transfers.activeUploads,
    replicas: now.replicas.map(r => ({ cid: r.cid, health: r.health, copies: r.copies, wanted: r.wanted }))
  }
}

const BAR_WIDTH = 20

/** A text bar of `done` of `total`. */
function bar (done: number, total: number): string {
  const filled = total > 0 ? Math.min(BAR_WIDTH, Math.round(done / total * BAR_WIDTH)) : 0
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`
}

function short (id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

/** The screen `shoal top` draws: totals, transfers, peers, replicas (at most `rows` of each list). */
export function renderTop (view: TopView, rows = 10): string[] {
  const rate = (n: number): string => `${formatBytes(n)}/s`
  const lines = [`up ${rate(view.up)}  down ${rate(view.down)}  ${view.peers.length} peer(s)  ${view.downloads.length} download(s)  ${view.activeUploads} block(s) uploading`, '']
  lines.push('TRANSFERS')
  if (view.downloads.length === 0) lines.push('  none')
  for (const d of view.downloads.slice(0, rows)) {
    const pct = d.bytesTotal > 0 ? `${(d.bytesDone / d.bytesTotal * 100).toFixed(0)}%` : '?'
    const size = d.bytesTotal > 0 ? `${formatBytes(d.bytesDone)} of ${formatBytes(d.bytesTotal)}` : formatBytes(d.bytesDone)
    lines.push(`  ${bar(d.bytesDone, d.bytesTotal)} ${pct.padStart(4)}  ${rate(d.rate).padStart(12)}  eta ${(d.eta == null ? '?' : formatDuration(d.eta)).padEnd(6)}  ${d.peers} peer(s)  ${d.purpose.padEnd(7)}  ${short(d.name)}  ${size}`)
  }
  lines.push('', 'PEERS (up / down)')
  if (view.peers.length === 0) lines.push('  none')
  for (const p of view.peers.slice(0, rows)) lines.push(`  ${short(p.peerId).padEnd(16)}  ${rate(p.up).padStart(12)}  ${rate(p.down).padStart(12)}`)
  if (view.peers.length > rows) lines.push(`  … and ${view.peers.length - rows} more`)
  lines.push('', 'REPLICAS')
  if (view.replicas.length === 0) lines.push('  none')
  for (const r of view.replicas.slice(0, rows)) lines.push(`  ${r.health.padEnd(16)}  ${r.copies} of ${r.wanted}  ${r.cid}`)
  if (view.replicas.length > rows) lines.push(`  … and ${view.replicas.length - rows} more`)
  return lines
}
