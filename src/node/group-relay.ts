import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { TokenBucket } from '../exchange/token-bucket.js'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { Connection, PeerId, Stream } from '@libp2p/interface'

export interface GroupRelayInit {
  /** Whether a peer is a known member of this peer's replication group. */
  isMember(peer: PeerId): boolean
  /** Reservations held at once (each a peer that can be reached through us). */
  maxReservations: number
  /** What one relayed connection between peers that are not both members may carry: bytes, and ms (libp2p's relay server counts its duration limit in ms). */
  strangerDataLimit: number
  strangerDurationLimit: number
  /** Bytes per second all relayed connections between members may carry together, each way counted (0: unlimited). */
  memberRate: number
}

/** The parts of libp2p's relay server that decide a relayed connection's limits (not in its public interface). */
interface RelayServerInternals {
  reservationStore: { get(peer: PeerId): { limit?: unknown } | undefined }
  handleConnect(args: { connection: Connection, stream: { unwrap(): Stream } }, options: unknown): Promise<void>
  stopHop(args: { connection: Connection, request: { peer?: { id: Uint8Array } } }, options?: unknown): Promise<Stream | undefined>
}

/**
 * Relayed bytes read from `stream` pass through `bucket`: past its rate the
 * relay stops reading the stream (the sender's window fills and it waits)
 * until the bucket has room again.
 */
function throttle (stream: Stream, bucket: TokenBucket): void {
  stream.addEventListener('message', evt => {
    const bytes = evt.data.byteLength
    if (bucket.tryTake(bytes)) return
    stream.pause()
    bucket.take(bytes).then(() => { stream.resume() }, () => {})
  })
}

/**
 * A circuit relay (v2) run for the replication group: a relayed connection
 * between two members of the group carries anything (Shoal's protocols,
 * whole files), within a rate all members' connections share
 * (`memberRate`); one with a stranger at either end is limited as libp2p
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
    const stopHop = internals.stopHop.bind(server)
    const bucket = init.memberRate > 0 ? new TokenBucket(init.memberRate) : undefined
    let source: PeerId | undefined
    let members = false
    store.get = peer => {
      const reservation = get(peer)
      if (reservation == null || source == null) return reservation
      members = init.isMember(source) && init.isMember(peer)
      return members ? { ...reservation, limit: undefined } : reservation
    }
    internals.handleConnect = async (args, options) => {
      source = args.connection.remotePeer
      members = false
      let throttled = false
      try {
        // runs synchronously up to its reservation look-up
        const connecting = handleConnect(args, options)
        throttled = members && bucket != null
        source = undefined
        await connecting
      } finally {
        source = undefined
      }
      // the connection is relayed now: the source's stream was unwrapped and joined to the destination's
      if (throttled) throttle(args.stream.unwrap(), bucket!)
    }
    // the destination's side of a members' connection, before anything is relayed on it
    internals.stopHop = async (args, options) => {
      const stream = await stopHop(args, options)
      if (stream != null && bucket != null && args.request.peer != null &&
        init.isMember(args.connection.remotePeer) && init.isMember(peerIdFromMultihash(Digest.decode(args.request.peer.id)))) {
        throttle(stream, bucket)
      }
      return stream
    }
    return server
  }
}
