import { formatDuration } from '../duration.js'
import { formatBytes } from './output.js'
import type { TopView } from '../node/activity-view.js'

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
    lines.push(`  ${bar(d.bytesDone, d.bytesTotal)} ${pct.padStart(4)}  ${rate(d.rate).padStart(12)}  eta ${(d.eta == null ? '?' : formatDuration(d.eta)).padEnd(10)}  ${d.peers} peer(s)  ${d.purpose.padEnd(7)}  ${short(d.name)}  ${size}`)
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
