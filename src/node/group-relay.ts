import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Connection, PeerId } from '@libp2p/interface'

export interface GroupRelayInit {
  /** Whether a peer is a known member of this peer's replication group. */
  isMember(peer: PeerId): boolean
  /** Reservations held at once (each a peer that can be reached through us). */
  maxReservations: number
  /** What one relayed connection between peers that are not both members may carry: bytes, and ms (libp2p's relay server counts its duration limit in ms). */
  strangerDataLimit: number
  strangerDurationLimit: number
}

/** The parts of libp2p's relay server that decide a relayed connection's limits (not in its public interface). */
interface RelayServerInternals {
  reservationStore: { get(peer: PeerId): { limit?: unknown } | undefined }
  handleConnect(args: { connection: Connection }, options: unknown): Promise<void>
}

/**
 * A circuit relay (v2) run for the replication group: a relayed connection
 * between two members of the group carries anything (Shoal's protocols,
 * whole files), one with a stranger at either end is limited as libp2p
 * limits every relayed connection by default (what is enough to set up a
 * direct connection, no more). Reservations are bounded.
 *
 * libp2p's relay applies one limit per reservation, whoever connects to it;
 * the limit of each connection is chosen here instead, when it is made, from
 * both its ends. A connection's limits are read from the reservation store
 * synchronously at the start of `handleConnect`, so the source is known then.
 */
export function groupRelay (init: GroupRelayInit): (components: any) => CircuitRelayService {
  const factory = circuitRelayServer({
    reservations: {
      maxReservations: init.maxReservations,
      applyDefaultLimit: true,
      defaultDataLimit: BigInt(init.strangerDataLimit),
      defaultDurationLimit: init.strangerDurationLimit
    }
  })
  return (components: any) => {
    const server = factory(components)
    const internals = server as unknown as RelayServerInternals
    const store = internals.reservationStore
    const get = store.get.bind(store)
    const handleConnect = internals.handleConnect.bind(server)
    let source: PeerId | undefined
    store.get = peer => {
      const reservation = get(peer)
      if (reservation == null || source == null) return reservation
      return init.isMember(source) && init.isMember(peer) ? { ...reservation, limit: undefined } : reservation
    }
    internals.handleConnect = async (args, options) => {
      source = args.connection.remotePeer
      try {
        // runs synchronously up to its reservation look-up
        const connecting = handleConnect(args, options)
        source = undefined
        await connecting
      } finally {
        source = undefined
      }
    }
    return server
  }
}
