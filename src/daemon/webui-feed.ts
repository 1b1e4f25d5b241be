import { topView } from '../node/activity-view.js'
import { FEED_HISTORY, FEED_INTERVAL } from './constants.js'
import type { TopSample, TopView } from '../node/activity-view.js'
import type { UnfinishedGet } from '../node/downloads.js'
import type { ReachabilityStatus } from '../node/reachability.js'
import type { ShoalNode } from '../node/shoal-node.js'
import type { ServerResponse } from 'node:http'

/** What the page learns each second. */
export interface FeedSnapshot {
  at: number
  self: { peerId: string, addresses: string[], reachability: string }
  /** Transfers with rates, ETAs and each peer's share, peers with their rates, totals (as `shoal top` shows them). */
  view: TopView
  pins: Array<Record<string, unknown>>
  /** Unfinished gets: running, or interrupted (the same get resumes one). */
  unfinished: UnfinishedGet[]
  bans: Array<{ peer: string, until: number, reason: string }>
  /** Downloads and uploads the page started, and how they ended. */
  jobs: unknown[]
  /** Bytes per second up and down, one sample per interval, oldest first. */
  history: Array<{ t: number, up: number, down: number }>
}

/**
 * The page's live feed: server-sent events, one snapshot a second to every
 * page open, computed once per tick whatever the number of pages, and only
 * while at least one is open (an idle daemon with no page pays nothing).
 */
export class WebFeed {
  private readonly node: ShoalNode
  private readonly jobs: () => unknown[]
  private readonly clients = new Set<ServerResponse>()
  private readonly history: FeedSnapshot['history'] = []
  private timer?: ReturnType<typeof setInterval>
  private prev?: TopSample
  private ticking = false

  constructor (node: ShoalNode, jobs: () => unknown[]) {
    this.node = node
    this.jobs = jobs
  }

  /** Stream the feed to `res` until the page goes away. */
  subscribe (res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
    // a page that lost the daemon retries after this (ms)
    res.write('retry: 2000\n\n')
    this.clients.add(res)
    res.on('close', () => {
      this.clients.delete(res)
      if (this.clients.size === 0) this.idle()
    })
    this.timer ??= setInterval(() => { void this.tick() }, FEED_INTERVAL)
    void this.tick()
  }

  stop (): void {
    for (const res of this.clients) res.end()
    this.clients.clear()
    this.idle()
  }

  private idle (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.prev = undefined
  }

  private async tick (): Promise<void> {
    if (this.ticking) return
    this.ticking = true
    try {
      const snapshot = await this.snapshot()
      const event = `event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`
      for (const res of this.clients) res.write(event)
    } catch {
      // a snapshot that failed (the daemon stopping) is skipped; the next tick tries again
    } finally {
      this.ticking = false
    }
  }

  async snapshot (): Promise<FeedSnapshot> {
    const node = this.node
    const transfers = node.activity()
    const replicas = node.replicaList()
    const now: TopSample = { at: Date.now(), transfers, replicas }
    const view = topView(this.prev, now)
    if (this.prev != null) {
      this.history.push({ t: now.at, up: view.up, down: view.down })
      if (this.history.length > FEED_HISTORY) this.history.shift()
    }
    this.prev = now
    const byCid = new Map(replicas.map(r => [r.cid, r]))
    const pins = (await node.ls()).map(p => {
      const cid = p.cid.toString()
      return { cid, name: p.name, size: p.size, kind: p.type, reasons: p.reasons, state: p.state, replication: byCid.get(cid) }
    })
    const addresses = node.addresses()
    return {
      at: now.at,
      self: { peerId: node.peerId.toString(), addresses, reachability: reachabilityLine(node.libp2p.services.reachability.status()) },
      view,
      pins,
      unfinished: await node.unfinished(),
      bans: node.bans.list(),
      jobs: this.jobs(),
      history: this.history
    }
  }
}

/** Whether other peers can dial this one, and why Shoal thinks so. */
function reachabilityLine (status: ReachabilityStatus): string {
  return `reachability: ${status.state} (${status.reason})`
}
