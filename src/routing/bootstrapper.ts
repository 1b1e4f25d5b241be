import { peerIdFromString } from '@libp2p/peer-id'
import { BOOTSTRAP_DIAL_TIMEOUT, BOOTSTRAP_MAX_RETRY, BOOTSTRAP_RETRY } from './constants.js'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import type { AbortOptions, Connection, PeerId, PeerStore, Startable } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface BootstrapEvents {
  /** A bootstrap peer answered. */
  connected: CustomEvent<{ peer: string, address: string }>
  /** A bootstrap peer could not be reached. */
  failed: CustomEvent<{ peer: string, address: string, error: string }>
  /** Not one bootstrap peer could be reached and no other peer is connected: we are alone. */
  alone: CustomEvent<{ tried: number, retryIn: number }>
}

export interface BootstrapperComponents {
  peerStore: PeerStore
  dial(address: Multiaddr, options: AbortOptions): Promise<Connection>
  /** Peers connected now. */
  connections(): number
}

export interface BootstrapperInit {
  /** Full multiaddrs, each with /p2p/<peer id> (checked by the config). */
  list: string[]
  /** How long one dial may take (ms). */
  dialTimeout?: number
  /** First wait before trying again while alone (ms); it doubles up to `maxRetry`. */
  retry?: number
  maxRetry?: number
}

/** Tag that keeps bootstrap peers' records in the peer store, as @libp2p/bootstrap sets it. */
const BOOTSTRAP_TAG = 'bootstrap'
const BOOTSTRAP_TAG_VALUE = 50

/**
 * The first neighbours: dials every bootstrap peer at start and says how
 * each went (events), and while this peer has no connection at all, tries
 * them again with a growing pause, so a peer whose bootstraps were down at
 * start joins as soon as one comes up.
 */
export class Bootstrapper extends TypedEventEmitter<BootstrapEvents> implements Startable {
  private readonly c: BootstrapperComponents
  private readonly init: Required<BootstrapperInit>
  private readonly peers: Array<{ id: PeerId, address: Multiaddr }>
  private controller = new AbortController()
  private timer?: ReturnType<typeof setTimeout>
  private wait: number

  constructor (components: BootstrapperComponents, init: BootstrapperInit) {
    super()
    this.c = components
    this.init = { dialTimeout: BOOTSTRAP_DIAL_TIMEOUT, retry: BOOTSTRAP_RETRY, maxRetry: BOOTSTRAP_MAX_RETRY, ...init }
    this.wait = this.init.retry
    this.peers = init.list.map(text => {
      const address = multiaddr(text)
      const id = address.getComponents().findLast(c => c.name === 'p2p')?.value
      return { id: peerIdFromString(id ?? ''), address }
    })
  }

  start (): void {
    if (this.peers.length === 0) return
    this.controller = new AbortController()
    void this.round()
  }

  stop (): void {
    this.controller.abort()
    clearTimeout(this.timer)
  }

  private async round (): Promise<void> {
    const signal = this.controller.signal
    const results = await Promise.all(this.peers.map(async ({ id, address }) => {
      await this.c.peerStore.merge(id, { multiaddrs: [address], tags: { [BOOTSTRAP_TAG]: { value: BOOTSTRAP_TAG_VALUE } } }).catch(() => {})
      try {
        await this.c.dial(address, { signal: AbortSignal.any([signal, AbortSignal.timeout(this.init.dialTimeout)]) })
        this.safeDispatchEvent('connected', { detail: { peer: id.toString(), address: address.toString() } })
        return true
      } catch (err: any) {
        if (signal.aborted) return false
        this.safeDispatchEvent('failed', { detail: { peer: id.toString(), address: address.toString(), error: err.message } })
        return false
      }
    }))
    if (signal.aborted || results.some(ok => ok)) return
    // nobody answered: try again later, unless some other peer found us meanwhile
    if (this.c.connections() === 0) this.safeDispatchEvent('alone', { detail: { tried: this.peers.length, retryIn: this.wait } })
    this.timer = setTimeout(() => {
      if (this.c.connections() === 0) void this.round()
      else this.wait = this.init.retry
    }, this.wait)
    this.wait = Math.min(this.wait * 2, this.init.maxRetry)
  }
}
