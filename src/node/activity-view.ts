import type { TransfersView } from './peer-ops.js'
import type { PeerContribution } from '../exchange/session-types.js'
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
  /** Each peer's share of the bytes this download received, in whole percent (see `sharesOf`). */
  shares: PeerShare[]
}

/** One peer's share of what a download received. */
export interface PeerShare {
  peerId: string
  percent: number
}

/**
 * Each peer's share of the bytes a download received from peers, in whole
 * percent, largest first. The whole is what the peers sent (duplicates of the
 * endgame and interior blocks included), not the bytes on disk: those count
 * a block only once it is written, and a block that two peers sent only once,
 * so a peer's bytes over them passed 100 %. Rounded by largest remainder, so
 * the shares add up to exactly 100 (never more); a peer that sent nothing has none.
 */
export function sharesOf (contributors: PeerContribution[]): PeerShare[] {
  const sent = contributors.filter(c => c.bytes > 0)
  const whole = sent.reduce((n, c) => n + c.bytes, 0)
  if (whole === 0) return []
  const exact = sent.map(c => ({ peerId: c.peerId, bytes: c.bytes, exact: c.bytes / whole * 100 }))
  const shares = exact.map(e => ({ ...e, percent: Math.floor(e.exact) }))
  let left = 100 - shares.reduce((n, s) => n + s.percent, 0)
  for (const s of [...shares].sort((a, b) => (b.exact - b.percent) - (a.exact - a.percent) || b.bytes - a.bytes || a.peerId.localeCompare(b.peerId))) {
    if (left === 0) break
    s.percent++
    left--
  }
  return shares
    .sort((a, b) => b.bytes - a.bytes || a.peerId.localeCompare(b.peerId))
    .map(s => ({ peerId: s.peerId, percent: s.percent }))
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
    return { root: d.root, name: d.name ?? d.root, purpose: d.purpose, bytesDone: d.bytesDone, bytesTotal: d.bytesTotal, rate: r, eta: r > 0 && d.bytesTotal > 0 ? left / r : undefined, peers: d.peers, shares: sharesOf(d.contributors) }
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
