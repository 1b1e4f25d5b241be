/** Placement requests sent per root per round (the next round goes on). */
export const MAX_ASKS_PER_ROUND = 8

/**
 * A peer that stopped answering is offered copies again once it has been
 * silent this long (ms), after every live peer: a peer cut off by a partition
 * forgets the holders it could not reach, and they forget it; after the
 * partition heals, its offers to them are how each side finds the other.
 */
export const RETRY_SILENT_PEER_AFTER = 20_000

/** A peer that declined a root is not asked again for it for this long (ms). */
export const DECLINED_TTL = 60_000

/** A peer that is not in our replication group is not asked again for this long (ms). */
export const NOT_MEMBER_TTL = 10 * 60_000

/** Gossip naming a holder we just trimmed is ignored for this long (ms). */
export const RELEASED_TTL = 60_000

/** How often a graceful stop checks whether its replicas are handed over (ms). */
export const LEAVE_POLL = 500

/**
 * A graceful stop gives a root up once its placements have found no peer
 * to take a copy for this long (ms): long enough for a peer that is just
 * connecting to be asked, far shorter than the leave timeout.
 */
export const HANDOVER_GIVE_UP_AFTER = 3_000

/** Placements a graceful stop runs at once, at most (a peer may hold thousands of roots). */
export const MAX_HANDOVER_PLACEMENTS = 8

/**
 * Roots whose new copy is on its way a graceful stop asks their holders
 * about after each pause, at most (a few query pages per peer).
 */
export const HANDOVER_QUERY_ROOTS = 256

/** How long the goodbye to each other holder may take (ms). */
export const LEAVING_NOTICE_TIMEOUT = 2_000

/** Disk space no replica may take: this much, or this share of a small disk. */
export const DISK_HEADROOM = 1024 * 1024 * 1024
export const DISK_HEADROOM_SHARE = 0.05

/**
 * A holder gone this many grace periods is forgotten even while the root is
 * short of copies (the leader places at most max + K holders it knows of).
 */
export const FORGET_AFTER_GRACE_PERIODS = 3

/** Rounds a new holder waits before it may lead: it first hears who else was asked. */
export const SETTLE_ROUNDS = 2

/**
 * Failed probes in a row before a silent holder may stop counting (besides
 * the grace period): one timeout on a loaded machine is not a death.
 */
export const FAILURES_BEFORE_GONE = 2

/**
 * Probe timeouts follow the response times seen (libp2p's AdaptiveTimeout):
 * never below `probeTimeout`, never above `probeTimeout` × this.
 */
export const MAX_PROBE_TIMEOUT_FACTOR = 6

/** Rounds of "ask the holders they name" a status query of a root we do not hold makes. */
export const STATUS_QUERY_ROUNDS = 3

/** The label of the HMAC that proves membership of a replication group. */
export const GROUP_PROOF_CONTEXT = 'shoal/replica/1.0.0 group proof'

/** How long a peer's last proof of membership counts (the relay service asks; members say hello to relays they meet again sooner). */
export const MEMBER_PROOF_TTL = 60 * 60_000

/** Peers whose last proof we remember (the oldest forgotten first): a group far larger than any honest one. */
export const MAX_PROVEN_MEMBERS = 4096

/** How often a member says hello (an empty, sealed STATUS) to a relay it stays connected to, so the proof never lapses. */
export const RELAY_HELLO_INTERVAL = 20 * 60_000

/** The first line of a replication group key file, then 64 hex digits. */
export const GROUP_KEY_HEADER = '/shoal/group-key/1.0.0'

/** Most copies of one root the swarm keeps (and holders a replica message may name). */
export const MAX_REPLICAS = 64

/**
 * How often the leader of a root looks its providers up in the DHT and
 * probes those it does not know as holders (ms; `Reconciler`).
 */
export const RECONCILE_INTERVAL = 60_000

/** How long that DHT look-up may take (ms). */
export const RECONCILE_LOOKUP_TIMEOUT = 20_000

/**
 * Look-ups of that kind running at once, at most: a peer leading thousands
 * of roots looks them up a few at a time (a root due while they run waits
 * for a later round), not all at once every minute.
 */
export const MAX_RECONCILES_RUNNING = 4

/**
 * Look-ups of that kind started within one RECONCILE_INTERVAL, at most: up
 * to 60 roots led, each is looked up once a minute; past that each less
 * often (3 333 roots: each about once an hour), and the DHT traffic of a
 * large collection stays that of 60 roots.
 */
export const MAX_RECONCILES_PER_INTERVAL = 60

/**
 * A sync page (one STATUS request of a holder's round) carries at most this
 * share of the protocol's limits: entries and dropped roots together at
 * most MAX_REPLICA_ROOTS / 4 and MAX_REPLICA_MESSAGE_SIZE / 4 bytes of them,
 * so the page, with its envelope (proof, the reachable holders), stays far
 * inside both limits whatever its entries hold (see pages.ts).
 */
export const PAGE_SHARE_OF_LIMITS = 4

/**
 * Pages a round sends one peer at most: a round's traffic to a peer is
 * bounded (MAX_PAGES_PER_ROUND × MAX_REPLICA_MESSAGE_SIZE / PAGE_SHARE_OF_LIMITS),
 * what is left goes in the next round.
 */
export const MAX_PAGES_PER_ROUND = 16

/**
 * Holders a root's view keeps at most: gossip naming more is not taken in
 * (at most `max` + K holders are placed; MAX_REPLICAS each).
 */
export const MAX_KNOWN_HOLDERS = 2 * MAX_REPLICAS

/** Peers whose sync state (what we told them, what they told us) is kept; past it the oldest starts again from scratch. */
export const MAX_SYNC_PEERS = 1024

/** A reason given on the wire (a decline) is cut to this many characters. */
export const MAX_REASON_LENGTH = 120
