import { ReplicaOp } from '../protocol/replica-network.js'
import { RELAY_HELLO_INTERVAL } from './constants.js'
import type { ReplicaClient } from './client.js'
import type { ReplicationGroup } from './group.js'
import type { Logger, PeerId } from '@libp2p/interface'

export interface RelayHelloComponents {
  group: ReplicationGroup
  client: ReplicaClient
  /** Call `onConnect` for each peer we connect to that offers a circuit relay; the returned function stops it. */
  watchRelays(onConnect: (peer: PeerId) => void): Promise<() => void>
  /** Whether we are connected to `peer` now. */
  isConnected(peer: PeerId): boolean
  log: Logger
}

/**
 * A member of a replication group proves it to every relay it meets (an
 * empty STATUS, sealed with the group's proof), and again every
 * RELAY_HELLO_INTERVAL while it stays connected: a relay run by the group
 * relays its members without limits, and knows them only by such proofs.
 * The relay's sealed answer proves its own membership to us.
 */
export class RelayHello {
  private stopWatching?: () => void
  private timer?: ReturnType<typeof setInterval>
  /** Relays we are connected to: at most the connections we may hold. */
  private readonly relays = new Map<string, PeerId>()

  constructor (private readonly c: RelayHelloComponents) {}

  async start (): Promise<void> {
    if (!this.c.group.exists) return
    this.stopWatching = await this.c.watchRelays(peer => {
      this.relays.set(peer.toString(), peer)
      void this.hello(peer)
    })
    this.timer = setInterval(() => {
      for (const [id, peer] of this.relays) {
        if (this.c.isConnected(peer)) void this.hello(peer)
        else this.relays.delete(id)
      }
    }, RELAY_HELLO_INTERVAL)
  }

  stop (): void {
    this.stopWatching?.()
    clearInterval(this.timer)
    this.relays.clear()
  }

  private async hello (peer: PeerId): Promise<void> {
    try {
      await this.c.client.request(peer, { op: ReplicaOp.STATUS, roots: [], proof: new Uint8Array(0) })
      this.c.log('said hello to relay %p, a member of our group', peer)
    } catch (err: any) {
      // a relay outside the group, or one gone: it relays us within its default limits
      this.c.log('relay %p did not take our hello: %s', peer, err.message)
    }
  }
}
