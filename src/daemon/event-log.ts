import type { Log } from './log.js'
import type { ShoalNode } from '../node/shoal-node.js'
import type { ReplicaEvents } from '../replication/events.js'
import type { ReachabilityStatus } from '../node/reachability.js'
import type { PeerId } from '@libp2p/interface'

type Detail<K extends keyof ReplicaEvents> = ReplicaEvents[K] extends CustomEvent<infer D> ? D : never

/** How each replication event reads in the log: its level and line. */
const REPLICA_LINES: { [K in keyof ReplicaEvents]?: (d: Detail<K>, log: Log) => void } = {
  'replica:accepted': (d, log) => { log.info('took a copy to keep', { root: d.root, for: d.from, state: d.state }) },
  'replica:declined': (d, log) => { log.info('declined to keep a copy', { root: d.root, for: d.from, reason: d.reason }) },
  'replica:complete': (d, log) => { log.info('copy complete', { root: d.root, seconds: d.seconds.toFixed(1) }) },
  'replica:failed': (d, log) => { log.warn('fetching our copy failed', { root: d.root, error: d.error, then: d.retryIn == null ? 'given up: its content is refused' : `retrying in ${Math.round(d.retryIn / 1000)} s` }) },
  'replica:released': (d, log) => { log.info('released our copy', { root: d.root, by: d.by }) },
  'holder:absent': (d, log) => { log.warn('holder not answering', { peer: d.peer, roots: d.roots, error: d.error }) },
  'holder:back': (d, log) => { log.info('holder answering again', { peer: d.peer, after: `${(d.downFor / 1000).toFixed(1)}s` }) },
  'holder:left': (d, log) => { log.info('holder left after handing its copies over', { peer: d.peer, roots: d.roots }) },
  'holder:gone': (d, log) => { log.warn('holder gone past the grace period; its copy no longer counts', { root: d.root, peer: d.peer }) },
  'repair:start': (d, log) => { log.info('repair started', { root: d.root, copies: d.copies, wanted: d.wanted, placing: d.placing }) },
  'repair:placed': (d, log) => { log.info('peer took a copy', { root: d.root, peer: d.peer, state: d.state }) },
  'repair:declined': (d, log) => { log.info('peer declined a copy', { root: d.root, peer: d.peer, reason: d.reason }) },
  'repair:done': (d, log) => { log.info('repair finished', { root: d.root, copies: d.copies, seconds: d.seconds.toFixed(1) }) },
  trim: (d, log) => { log.info('released a surplus copy', { root: d.root, peer: d.peer, max: d.max }) },
  handover: (d, log) => {
    const waiting = d.waiting.map(w => `${w.root} (${w.copies} of ${w.wanted})`).join(', ')
    log.info('handing over: waiting for copies elsewhere', { roots: d.pending, waiting, elapsed: `${d.seconds.toFixed(0)}s`, timeout: `${d.timeout}s` })
  }
}

/**
 * Log what the node does, one line each: peers connecting, bans, and every
 * replication event. Returns a function that stops logging.
 */
export function logNodeEvents (node: ShoalNode, log: Log): () => void {
  const off: Array<() => void> = []
  const on = (target: EventTarget, type: string, fn: (detail: any) => void): void => {
    const listener = (evt: Event): void => { fn((evt as CustomEvent).detail) }
    target.addEventListener(type, listener)
    off.push(() => { target.removeEventListener(type, listener) })
  }
  on(node.libp2p, 'peer:connect', (peer: PeerId) => {
    log.info('peer connected', { peer: peer.toString(), address: node.libp2p.getConnections(peer)[0]?.remoteAddr.toString() })
  })
  on(node.libp2p, 'peer:disconnect', (peer: PeerId) => { log.debug('peer disconnected', { peer: peer.toString() }) })
  const reach = node.libp2p.services.reachability
  on(reach, 'reachability:change', (d: ReachabilityStatus) => {
    log.info('reachability', { state: d.state, why: d.reason })
  })
  on(reach, 'relay:reserved', (d: { relay: string, member: boolean }) => {
    log.info('reserved a slot on a relay: reachable through it', { relay: d.relay, limits: d.member ? 'none (our group\'s relay)' : 'its defaults' })
  })
  on(reach, 'relay:failed', (d: { relay: string, error: string }) => { log.warn('relay refused a reservation', { relay: d.relay, error: d.error }) })
  on(node.bans, 'ban', (d: { peer: string, reason: string, until: number }) => {
    log.warn('banned peer', { peer: d.peer, reason: d.reason, until: new Date(d.until).toISOString() })
  })
  for (const [type, line] of Object.entries(REPLICA_LINES)) {
    on(node.replicaEvents, type, detail => { (line as (d: unknown, log: Log) => void)(detail, log) })
  }
  return () => { for (const f of off) f() }
}
