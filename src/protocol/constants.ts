import { MAX_CHUNK_SIZE } from '../content/profile.js'

export const BLOCK_PROTOCOL = '/shoal/blocks/1.0.0'

/** Bytes a block message may carry beyond the block itself (CID, framing). */
export const MESSAGE_OVERHEAD = 64 * 1024

/** Largest message accepted on the block protocol; larger length prefixes close the stream. */
export const MAX_MESSAGE_SIZE = MAX_CHUNK_SIZE + MESSAGE_OVERHEAD

/** Most CIDs one Request may name (want + cancel each). */
export const MAX_CIDS_PER_REQUEST = 512

/** Most entries one Response may carry. */
export const MAX_ENTRIES_PER_RESPONSE = 512

/** Cancelled requests a requester remembers: a block already on its way when cancelled is dropped, not taken for one nobody asked for. */
export const MAX_RECENT_CANCELS = 1024

/** Streams of the block protocol one peer may open to us, and we to it. */
export const MAX_INBOUND_STREAMS = 32
export const MAX_OUTBOUND_STREAMS = 64

/** A stream of any Shoal protocol with no message in or out for this long is closed (ms). */
export const STREAM_IDLE_TIMEOUT = 120_000

/** Bytes a stream's reader takes ahead of its consumer before it pauses the stream (backpressure). */
export const READ_AHEAD = 1024 * 1024

/**
 * What a paused stream may buffer: yamux's largest stream window (16 MiB,
 * its default `maxStreamWindowSize`), which is the most a sender can still
 * send once no more window is granted, and some slack. libp2p's default
 * (4 MiB) would reset a stream from a fast honest sender.
 */
export const PAUSED_READ_BUFFER = 16 * 1024 * 1024 + MESSAGE_OVERHEAD

/** How long to wait for a stream to open, or to drain when its buffer is full (ms). */
export const STREAM_OPEN_TIMEOUT = 10_000
export const WRITE_TIMEOUT = 30_000

export const SWARM_PROTOCOL = '/shoal/swarm/1.0.0'

/** Largest swarm message: a bitfield for 1M leaves (1 TiB of 1 MiB chunks) plus peer records. */
export const MAX_SWARM_MESSAGE_SIZE = 256 * 1024

/** Most `have` indices and peer records in one swarm message. */
export const MAX_HAVES_PER_MESSAGE = 8192
export const MAX_PEERS_PER_MESSAGE = 50
export const MAX_ADDRS_PER_PEER = 8

/** Swarm streams one peer may open to us (one per root it shares with us). */
export const MAX_SWARM_STREAMS = 64

export const REPLICA_PROTOCOL = '/shoal/replica/1.0.0'

/** Largest replica message: thousands of roots with their holders. */
export const MAX_REPLICA_MESSAGE_SIZE = 1024 * 1024

/** Most roots in one replica message (entries, and roots a sync drops), and holders named per root (live and absent together). */
export const MAX_REPLICA_ROOTS = 4096
export const MAX_HOLDERS_PER_ROOT = 64

/** Most holders a sync names as reached by the sender's probes. */
export const MAX_REACHABLE_PEERS = 256

/** Replica streams one peer may have open with us at once. */
export const MAX_REPLICA_STREAMS = 16

/** How long one replica request may take, stream opening included (ms). */
export const REPLICA_REQUEST_TIMEOUT = 10_000

/** Bitswap, newest first: a stream negotiates the newest both sides speak. */
export const BITSWAP_PROTOCOLS = ['/ipfs/bitswap/1.2.0', '/ipfs/bitswap/1.1.0', '/ipfs/bitswap/1.0.0']
export const BITSWAP_LEGACY = '/ipfs/bitswap/1.0.0'

/** Most entries (wants, blocks, presences) one Bitswap message may carry (Helia's and boxo's want lists are at most 1024). */
export const BITSWAP_MAX_ENTRIES = 1024

/**
 * How long after we cancelled wants with a Bitswap peer a block it sends us
 * is taken for one already on its way (dropped, no offence); outside that,
 * a block nobody asked for counts against the peer (ms). Peers remembered so.
 */
export const CANCEL_GRACE = 10_000
export const MAX_TRACKED_CANCELS = 4096

/** Bitswap streams one peer may have open to us at once (Helia opens one per message). */
export const BITSWAP_MAX_INBOUND_STREAMS = 32
