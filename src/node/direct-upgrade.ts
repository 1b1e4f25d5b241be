import { isPrivate } from '@libp2p/utils'
import { DIRECT_RETRY_AFTER, DIRECT_TRIED_MAX, RELAYED_IDLE_CHECK } from './constants.js'
import type { Connection, Libp2pEvents, Logger, PeerId, PeerUpdate, Startable } from '@libp2p/interface'
import type { ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TypedEventTarget } from 'main-event'

export interface DirectUpgradeComponents {
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: ConnectionManager
  transportManager: TransportManager
  logger: { forComponent(name: string): Logger }
}

export interface DirectUpgradeInit {
  /** Whether an address is one we could dial directly from here (default: a public IP address one of our transports dials, no relay). */
  dialable?(addr: Multiaddr): boolean
  /** Milliseconds before an address tried once is tried again. */
  retryAfter?: number
  /** How often (ms) relayed connections replaced by direct ones are checked for streams still open. */
  idleCheck?: number
}

/** Relayed but not WebRTC: WebRTC's address names the relay too, yet its data flows directly. */
const relayedOnly = (conn: Connection): boolean => {
  const addr = conn.remoteAddr.toString()
  return addr.includes('/p2p-circuit') && !addr.includes('/webrtc')
}

/**
 * Moves a connection that runs through a relay onto a direct one as soon as
 * the peer at its other end has an address we can dial: a peer that was
 * behind a NAT when we connected, and whose router then forwarded a port to
 * it (UPnP) or who was given an address, tells its peers so (identify push),
 * and we dial it there, then close the relayed connection once it is idle. libp2p's DCUtR
 * tries this only when the relayed connection opens, which is too early for
 * a port mapped a few seconds after start.
 *
 * Each address is tried once per `retryAfter`, whatever the peer says, so a
 * peer that announces addresses it cannot be reached at makes us dial little.
 */
export class DirectUpgrade implements Startable {
  private readonly c: DirectUpgradeComponents
  private readonly log: Logger
  private readonly dialable: (addr: Multiaddr) => boolean
  private readonly retryAfter: number
  private readonly idleCheck: number
  /** `peer address` → when it was last tried; insertion order is age order. */
  private readonly tried = new Map<string, number>()
  private readonly upgrading = new Set<string>()
  private readonly controller = new AbortController()
  /** Relayed connections to close once no stream runs on them (bounded by our connections). */
  private readonly closing = new Set<Connection>()
  private timer?: ReturnType<typeof setInterval>

  constructor (components: DirectUpgradeComponents, init: DirectUpgradeInit = {}) {
    this.c = components
    this.log = components.logger.forComponent('shoal:direct-upgrade')
    this.dialable = init.dialable ?? (addr => isPublicAndDialable(addr, components.transportManager))
    this.retryAfter = init.retryAfter ?? DIRECT_RETRY_AFTER
    this.idleCheck = init.idleCheck ?? RELAYED_IDLE_CHECK
    this.onPeerUpdate = this.onPeerUpdate.bind(this)
  }

  readonly [Symbol.toStringTag] = 'shoal:direct-upgrade'

  start (): void {
    this.c.events.addEventListener('peer:update', this.onPeerUpdate)
  }

  stop (): void {
    this.c.events.removeEventListener('peer:update', this.onPeerUpdate)
    this.controller.abort()
    clearInterval(this.timer)
    this.closing.clear()
  }

  private onPeerUpdate (evt: CustomEvent<PeerUpdate>): void {
    try {
      const { peer } = evt.detail
      const conns = this.c.connectionManager.getConnections(peer.id)
      if (conns.length === 0 || !conns.every(relayedOnly)) return
      const now = Date.now()
      const fresh = peer.addresses.map(a => a.multiaddr).filter(addr => {
        if (!this.dialable(addr)) return false
        const at = this.tried.get(`${peer.id.toString()} ${addr.toString()}`)
        return at == null || now - at >= this.retryAfter
      })
      if (fresh.length === 0) return
      void this.upgrade(peer.id, fresh, conns)
    } catch (err: any) {
      this.log.error('direct upgrade: %s', err.message)
    }
  }

  private async upgrade (peer: PeerId, addrs: Multiaddr[], relayed: Connection[]): Promise<void> {
    const id = peer.toString()
    if (this.upgrading.has(id)) return
    this.upgrading.add(id)
    for (const addr of addrs) this.remember(`${id} ${addr.toString()}`)
    try {
      this.log('%p is reached through a relay only; dialling it directly at %a', peer, addrs)
      const conn = await this.c.connectionManager.openConnection(addrs, { force: true, signal: this.controller.signal })
      if (relayedOnly(conn)) return
      // new streams take the direct connection (libp2p prefers it); the relayed one is closed once
      // the streams it carries have ended, so a transfer under way is not cut
      this.log('%p reached directly at %a: its relayed connections close once idle', peer, conn.remoteAddr)
      for (const c of relayed) this.closing.add(c)
      this.timer ??= setInterval(() => { this.closeIdle() }, this.idleCheck)
    } catch (err: any) {
      this.log('%p could not be reached directly at %a: %s', peer, addrs, err.message)
    } finally {
      this.upgrading.delete(id)
    }
  }

  private closeIdle (): void {
    for (const c of this.closing) {
      if (c.status !== 'open') {
        this.closing.delete(c)
      } else if (c.streams.length === 0) {
        this.closing.delete(c)
        void c.close().catch(err => { c.abort(err) })
      }
    }
    if (this.closing.size === 0) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  private remember (key: string): void {
    this.tried.delete(key)
    this.tried.set(key, Date.now())
    for (const oldest of this.tried.keys()) {
      if (this.tried.size <= DIRECT_TRIED_MAX) break
      this.tried.delete(oldest)
    }
  }
}

/** An address with a public IP that one of our transports dials (never a relay's). */
function isPublicAndDialable (addr: Multiaddr, transportManager: TransportManager): boolean {
  const text = addr.toString()
  if (text.includes('/p2p-circuit') || !/^\/ip[46]\//.test(text)) return false
  if (transportManager.dialTransportForMultiaddr(addr) == null) return false
  return isPrivate(addr) === false
}

export function directUpgrade (init: DirectUpgradeInit = {}): (components: DirectUpgradeComponents) => DirectUpgrade {
  return components => new DirectUpgrade(components, init)
}
