import type { BanList } from './ban-list.js'
import type { PeerPool } from './peer-pool.js'
import type { Scheduler } from './scheduler.js'
import type { SessionDag } from './session-dag.js'
import type { ConnectEvents } from './session-types.js'
import type { RemotePeer, Swarm } from './swarm.js'
import type { Logger, PeerId, PeerInfo } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

type Target = { addEventListener(type: string, fn: (e: any) => void): void, removeEventListener(type: string, fn: (e: any) => void): void }

export interface SwarmLinkComponents {
  swarm: Swarm
  dag: SessionDag
  pool: PeerPool
  scheduler: Scheduler
  bans: BanList
  /** New connections: each peer is asked what it holds. */
  connects: ConnectEvents
  self: PeerId
  log: Logger
  signal: AbortSignal
  finished(): boolean
  /** Ask possible holders for blocks at once, not through the swarm (the root's swarm is another root's). */
  direct?: boolean
}

/**
 * A download's side of its root's swarm: what peers say they hold
 * (bitfields, haves, leaving) goes into the availability counts and opens
 * block channels to holders; peers that peer exchange, content routing or
 * a new connection bring are asked what they hold; a banned peer leaves the
 * pool at once.
 */
export class SwarmLink {
  private readonly c: SwarmLinkComponents
  private readonly listeners: Array<() => void> = []

  constructor (components: SwarmLinkComponents) {
    this.c = components
  }

  listen (): void {
    const { swarm, dag, pool, scheduler, signal } = this.c
    const onState = (remote: RemotePeer): void => {
      dag.numbering?.availability.setPeer(remote.key, remote.complete, remote.bitfield)
      if (remote.holdsSomething) pool.connect(remote.id, signal)
      const peer = pool.peers.get(remote.key)
      if (peer != null) scheduler.fill(peer)
    }
    this.on<RemotePeer>(swarm, 'peer:state', onState)
    // the root's swarm may be older than this download (another download of
    // the root, or seeding): the peers already in it told their state before
    // we listened, and asking them to join again is a no-op
    for (const remote of swarm.peers.values()) if (remote.heard) onState(remote)
    this.on<{ peer: RemotePeer, indices: number[] }>(swarm, 'peer:have', ({ peer: remote, indices }) => {
      dag.numbering?.availability.addHaves(remote.key, indices)
      const peer = pool.peers.get(remote.key)
      if (peer != null) scheduler.fill(peer)
      else pool.connect(remote.id, signal)
    })
    this.on<RemotePeer>(swarm, 'peer:gone', remote => {
      dag.numbering?.availability.removePeer(remote.key)
    })
    this.on<PeerInfo>(swarm, 'discovered', info => {
      pool.knownHolder(info.id.toString())
      this.consider(info.id)
    })
    this.on<PeerId>(this.c.connects as Target, 'peer:connect', peer => { this.consider(peer) })
    this.on<{ peer: string }>(this.c.bans, 'ban', ({ peer }) => { pool.drop(peer, 'banned') })
  }

  /** A possible holder: learn what it holds through the swarm (or, failing that, just ask it). */
  consider (id: PeerId): void {
    const key = id.toString()
    if (this.c.finished() || id.equals(this.c.self) || this.c.bans.isBanned(key) || this.c.pool.isLimited(key)) return
    if (this.c.direct === true) {
      // a peer that peer exchange named is dialled at the addresses given first
      void this.c.swarm.reach(id, this.c.signal).then(reached => { if (reached) this.c.pool.connect(id, this.c.signal) })
      return
    }
    this.c.swarm.connect(id, this.c.signal).catch(err => {
      if (this.c.finished()) return
      // every new connection through such a relay would be limited too: asking again only dials again
      if (err.name === 'LimitedConnectionError') {
        this.c.log('%s is reached only through a relay that limits us', key)
        this.c.pool.markLimited(key)
        return
      }
      this.c.log('no swarm stream to %s (%s); asking it for blocks directly', key, err.message)
      this.c.pool.connect(id, this.c.signal)
    })
  }

  /** Whether the peer told the swarm it holds `cid` (complete, or the leaf's bit set). */
  claimed (peerKey: string, cid: CID): boolean {
    const remote = this.c.swarm.peers.get(peerKey)
    if (remote == null || !remote.heard) return false
    if (remote.complete) return true
    const indices = this.c.dag.numbering?.index.indicesOf(cid)
    return indices != null && indices.some(i => remote.hasLeaf(i) === true)
  }

  close (): void {
    for (const off of this.listeners.splice(0)) off()
  }

  private on<T> (target: Target, type: string, fn: (detail: T) => void): void {
    const handler = (e: CustomEvent<T>): void => { fn(e.detail) }
    target.addEventListener(type, handler)
    this.listeners.push(() => { target.removeEventListener(type, handler) })
  }
}
