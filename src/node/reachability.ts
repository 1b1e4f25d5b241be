import os from 'node:os'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { isLoopback, isPrivate } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { RELAY_CHECK_INTERVAL, RELAY_RETRY_AFTER } from './constants.js'
import type { Connection, IdentifyResult, Libp2pEvents, Logger, PeerId, PeerStore, Startable } from '@libp2p/interface'
import type { AddressManager, ConnectionManager, TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TypedEventTarget } from 'main-event'

/** Whether other peers can dial this one: `public` (they can), `private` (only through a relay), `unknown` (no evidence either way yet). */
export type ReachabilityState = 'public' | 'private' | 'unknown'

export interface ReachabilityStatus {
  state: ReachabilityState
  /** What the state rests on, for people. */
  reason: string
  /** The address a peer last saw us at, when it is not one of ours (a NAT's public side). */
  observed?: string
  /** Our relayed addresses (a reservation on each relay). */
  relayed: string[]
}

export interface ReachabilityEvents {
  'reachability:change': CustomEvent<ReachabilityStatus>
  'relay:reserved': CustomEvent<{ relay: string, member: boolean }>
  'relay:failed': CustomEvent<{ relay: string, error: string }>
}

export interface ReachabilityComponents {
  events: TypedEventTarget<Libp2pEvents>
  transportManager: TransportManager
  addressManager: AddressManager
  connectionManager: ConnectionManager
  peerStore: PeerStore
  logger: { forComponent(name: string): Logger }
}

export interface ReachabilityInit {
  /** The operator gave the addresses to announce: they say we are reachable there. */
  announced: boolean
  /** Relays to hold a reservation on at once while private. */
  maxRelays: number
  /** Members of our replication group relay us without limits: their relays come first. */
  isMember(peer: PeerId): boolean
  /** The addresses of this machine's own interfaces (a peer that sees another one sees us through a NAT). */
  localAddresses?(): Set<string>
}

function interfaceAddresses (): Set<string> {
  return new Set(Object.values(os.networkInterfaces()).flat().map(i => i?.address).filter((a): a is string => a != null))
}

const isRelayed = (addr: Multiaddr): boolean => addr.toString().includes('/p2p-circuit')

/**
 * Finds out whether other peers can dial this one, and when they cannot,
 * holds reservations on relays it is connected to (its group's first), so
 * it has addresses others can reach it at (announced by identify and the
 * DHT as any other).
 *
 * The evidence, in libp2p's own events: a port our router forwards to us
 * (UPnP, libp2p's port mapper), or a direct inbound connection from a peer
 * outside our private networks, means we are dialable (public); an
 * address a peer saw us at that is none of this machine's (identify's
 * observed address) means a NAT stands between (private, unless inbound
 * connections say otherwise: a mapped port); no address of our own at all
 * is private. AutoNAT (libp2p's) is not used: it ignores TCP observed
 * addresses and needs four confirmations from four networks, which a group
 * of a few peers never gives.
 */
export class Reachability extends TypedEventEmitter<ReachabilityEvents> implements Startable {
  private readonly c: ReachabilityComponents
  private readonly init: ReachabilityInit
  private readonly log: Logger
  private readonly local: Set<string>
  private observed?: string
  private dialledBy?: string
  /** A port our router forwards to us (UPnP), as the router reported it. */
  private mapped?: string
  private state: ReachabilityState = 'unknown'
  private timer?: ReturnType<typeof setInterval>
  /** Relays whose reservation failed, and until when they are not tried again. */
  private readonly failed = new Map<string, number>()
  private reserving = false

  constructor (components: ReachabilityComponents, init: ReachabilityInit) {
    super()
    this.c = components
    this.init = init
    this.log = components.logger.forComponent('shoal:reachability')
    this.local = (init.localAddresses ?? interfaceAddresses)()
    // a listener that throws would take the process down (libp2p rethrows it): each says what failed instead
    this.onIdentify = this.guarded(this.onIdentify)
    this.onConnection = this.guarded(this.onConnection)
    this.onSelfUpdate = this.guarded(this.onSelfUpdate)
  }

  private guarded<E> (fn: (evt: E) => void): (evt: E) => void {
    return evt => {
      try {
        fn.call(this, evt)
      } catch (err: any) {
        this.log.error('reachability: %s', err.message)
      }
    }
  }

  readonly [Symbol.toStringTag] = 'shoal:reachability'

  start (): void {
    this.c.events.addEventListener('peer:identify', this.onIdentify)
    this.c.events.addEventListener('connection:open', this.onConnection)
    this.c.events.addEventListener('self:peer:update', this.onSelfUpdate)
    this.timer = setInterval(() => { void this.keepRelays() }, RELAY_CHECK_INTERVAL)
  }

  afterStart (): void {
    this.update()
  }

  stop (): void {
    this.c.events.removeEventListener('peer:identify', this.onIdentify)
    this.c.events.removeEventListener('connection:open', this.onConnection)
    this.c.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    clearInterval(this.timer)
  }

  status (): ReachabilityStatus {
    return { state: this.state, reason: this.reason(), observed: this.observed, relayed: this.relayed().map(a => a.toString()) }
  }

  private relayed (): Multiaddr[] {
    return this.c.transportManager.getAddrs().filter(isRelayed)
  }

  private direct (): Multiaddr[] {
    return this.c.transportManager.getAddrs().filter(a => !isRelayed(a))
  }

  private reason (): string {
    if (this.init.announced) return 'its announced addresses'
    if (this.mapped != null) return `its router forwards ${this.mapped} to it (UPnP)`
    if (this.dialledBy != null) return `a peer dialled it directly from ${this.dialledBy}`
    if (this.direct().length === 0) return 'no address of its own: reachable only through relays'
    if (this.observed != null) return `behind a NAT: peers see it at ${this.observed}`
    return 'no peer outside its own networks has seen it yet'
  }

  private compute (): ReachabilityState {
    if (this.init.announced || this.mapped != null || this.dialledBy != null) return 'public'
    if (this.direct().length === 0 || this.observed != null) return 'private'
    return 'unknown'
  }

  private update (): void {
    const state = this.compute()
    if (state !== this.state) {
      this.state = state
      this.log('reachability %s: %s', state, this.reason())
      this.safeDispatchEvent('reachability:change', { detail: this.status() })
    }
    void this.keepRelays()
  }

  private onIdentify (evt: CustomEvent<IdentifyResult>): void {
    const { observedAddr, connection } = evt.detail
    if (observedAddr == null || connection.limits != null || isRelayed(connection.remoteAddr)) return
    // what another peer says it sees: any multiaddr at all
    const host = ipOf(observedAddr)
    if (host == null || isLoopback(observedAddr) || this.local.has(host)) return
    this.observed = observedAddr.toString()
    this.update()
  }

  private onSelfUpdate (_evt?: unknown): void {
    const mapping = this.c.addressManager.getAddressesWithMetadata()
      .find(a => a.type === 'ip-mapping' && a.verified && !isRelayed(a.multiaddr) && ipOf(a.multiaddr) != null && isPrivate(a.multiaddr) !== true)
    const mapped = mapping?.multiaddr.toString()
    if (mapped === this.mapped) return
    this.mapped = mapped
    this.update()
  }

  private onConnection (evt: CustomEvent<Connection>): void {
    const conn = evt.detail
    // relayed and WebRTC connections (its remote address is no IP) say nothing of our address
    const host = ipOf(conn.remoteAddr)
    if (conn.direction !== 'inbound' || host == null || isRelayed(conn.remoteAddr) || isLoopback(conn.remoteAddr) || isPrivate(conn.remoteAddr) === true) return
    if (this.dialledBy != null) return
    this.dialledBy = host
    this.update()
  }

  /** While private: hold reservations on up to `maxRelays` relays we are connected to, members' first. */
  private async keepRelays (): Promise<void> {
    if (this.state !== 'private' || this.reserving) return
    this.reserving = true
    try {
      const held = new Set(this.relayed().map(a => relayOf(a)))
      if (held.size >= this.init.maxRelays) return
      const now = Date.now()
      for (const [id, until] of this.failed) if (until <= now) this.failed.delete(id)
      const candidates: Array<{ peer: PeerId, addr: Multiaddr, member: boolean }> = []
      for (const conn of this.c.connectionManager.getConnections()) {
        const id = conn.remotePeer.toString()
        if (conn.limits != null || isRelayed(conn.remoteAddr) || held.has(id) || (this.failed.get(id) ?? 0) > now) continue
        if (candidates.some(c => c.peer.equals(conn.remotePeer))) continue
        const peer = await this.c.peerStore.get(conn.remotePeer).catch(() => undefined)
        if (peer?.protocols.includes(RELAY_V2_HOP_CODEC) !== true) continue
        candidates.push({ peer: conn.remotePeer, addr: conn.remoteAddr, member: this.init.isMember(conn.remotePeer) })
      }
      candidates.sort((a, b) => Number(b.member) - Number(a.member))
      for (const { peer, addr, member } of candidates.slice(0, this.init.maxRelays - held.size)) {
        const at = multiaddr(`${withPeer(addr, peer).toString()}/p2p-circuit`)
        try {
          await this.c.transportManager.listen([at])
          this.log('reserved a slot on relay %p', peer)
          this.safeDispatchEvent('relay:reserved', { detail: { relay: peer.toString(), member } })
        } catch (err: any) {
          this.failed.set(peer.toString(), now + RELAY_RETRY_AFTER)
          this.safeDispatchEvent('relay:failed', { detail: { relay: peer.toString(), error: err.message } })
        }
      }
    } catch (err: any) {
      this.log.error('keeping relay reservations failed: %s', err.message)
    } finally {
      this.reserving = false
    }
  }
}

/** The IP address a multiaddr starts with, if it starts with one. */
function ipOf (addr: Multiaddr): string | undefined {
  const first = addr.getComponents()[0]
  return first?.name === 'ip4' || first?.name === 'ip6' ? first.value : undefined
}

/** The relay's PeerId in a relayed address of ours (`…/p2p/RELAY/p2p-circuit/…`). */
function relayOf (addr: Multiaddr): string | undefined {
  const parts = addr.toString().split('/p2p-circuit')[0].split('/p2p/')
  return parts.length > 1 ? parts[parts.length - 1] : undefined
}

function withPeer (addr: Multiaddr, peer: PeerId): Multiaddr {
  return addr.toString().includes('/p2p/') ? addr : addr.encapsulate(`/p2p/${peer.toString()}`)
}

export function reachability (init: ReachabilityInit): (components: ReachabilityComponents) => Reachability {
  return components => new Reachability(components, init)
}
