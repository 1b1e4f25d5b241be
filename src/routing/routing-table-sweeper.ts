import type { ComponentLogger, Logger, PeerId, Startable } from '@libp2p/interface'

export interface RoutingTableSweeperComponents {
  logger: ComponentLogger
  /** Source of `peer:connect` / `peer:disconnect` (the libp2p node). */
  events: EventTarget
  isConnected(peer: PeerId): boolean
  /** Resolves if the peer answers a ping. */
  ping(peer: PeerId, options: { signal: AbortSignal }): Promise<unknown>
  /** Drop the peer from the DHT routing table. */
  remove(peer: PeerId): Promise<void>
}

export interface RoutingTableSweeperInit {
  /** How long a peer may stay disconnected before it is pinged (ms). */
  delay: number
  /** How long the ping may take (ms). */
  timeout: number
}

/**
 * Removes dead peers from the DHT routing table. Kademlia only evicts a
 * contact when its bucket is full and a newcomer needs the slot, so in a
 * small or quiet swarm a crashed peer would stay in every table and cost
 * each query a failed dial. Here a peer that disconnected and has not come
 * back within `delay` is pinged; if it does not answer it leaves the table
 * (it is added again as soon as it talks to us).
 */
export class RoutingTableSweeper implements Startable {
  private readonly c: RoutingTableSweeperComponents
  private readonly init: RoutingTableSweeperInit
  private readonly log: Logger
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()
  private controller = new AbortController()
  private readonly onDisconnect = (evt: Event): void => { this.schedule((evt as CustomEvent<PeerId>).detail) }
  private readonly onConnect = (evt: Event): void => { this.cancel((evt as CustomEvent<PeerId>).detail) }

  constructor (components: RoutingTableSweeperComponents, init: RoutingTableSweeperInit) {
    this.c = components
    this.init = init
    this.log = components.logger.forComponent('shoal:routing-sweeper')
  }

  start (): void {
    this.controller = new AbortController()
    this.c.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.c.events.addEventListener('peer:connect', this.onConnect)
  }

  stop (): void {
    this.c.events.removeEventListener('peer:disconnect', this.onDisconnect)
    this.c.events.removeEventListener('peer:connect', this.onConnect)
    this.controller.abort()
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  private schedule (peer: PeerId): void {
    this.cancel(peer)
    this.timers.set(peer.toString(), setTimeout(() => {
      this.timers.delete(peer.toString())
      void this.check(peer)
    }, this.init.delay))
  }

  private cancel (peer: PeerId): void {
    clearTimeout(this.timers.get(peer.toString()))
    this.timers.delete(peer.toString())
  }

  private async check (peer: PeerId): Promise<void> {
    if (this.c.isConnected(peer) || this.controller.signal.aborted) return
    try {
      await this.c.ping(peer, { signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.init.timeout)]) })
    } catch {
      if (this.controller.signal.aborted) return
      this.log('%p is gone; removing it from the routing table', peer)
      await this.c.remove(peer).catch(err => { this.log.error('cannot remove %p: %s', peer, err.message) })
    }
  }
}
