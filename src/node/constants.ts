/**
 * A download's output is flushed to disk (fdatasync, in the background)
 * each time this many bytes were written to one of its files, so the sync
 * that makes it durable at the end has only the last few MiB left to write.
 */
export const OUTPUT_FLUSH_BYTES = 16 * 1024 * 1024

/**
 * With metrics on, how often Node's event-loop delay monitor samples (ms).
 * prom-client's default of 10 ms wakes an idle daemon a hundred times a
 * second: measured with 24 idle daemons, metrics on cost 0.5 % of a core
 * each, the rest of the daemon 0.3 %. A sample a second still shows a
 * stalled loop.
 */
export const EVENT_LOOP_SAMPLE_INTERVAL = 1000

/**
 * How often a running get saves its progress in its record (ms), so an
 * interrupted one is listed with how far it got.
 */
export const GET_PROGRESS_SAVE_INTERVAL = 5_000

/**
 * A replica is fetched only while the DAG declares at most this share more
 * than it was admitted for (the adder's size and the DAG's own count of its
 * bytes differ by its interior nodes), plus 1 MiB.
 */
export const REPLICA_SIZE_SLACK = 0.05

/**
 * How long (ms) the node trusts what it found out about a root one of whose
 * files changed or went: whether its blocks are all held elsewhere (a
 * replica's pack, another output, copies in the repo).
 */
export const COVERAGE_RECHECK = 60_000

/** While the answer is no, it is found out again less and less often: at most this seldom (ms). */
export const COVERAGE_RECHECK_MAX = 3_600_000

/** At most one gc this often (ms) for reads that took the repo past its storage limit. */
export const STORAGE_COLLECT_INTERVAL = 60_000

/** How often a peer that others cannot dial checks that it holds its relay reservations (ms). */
export const RELAY_CHECK_INTERVAL = 10_000

/** A relay that refused us a reservation is not asked again for this long (ms). */
export const RELAY_RETRY_AFTER = 10 * 60_000

/** A dial of one peer, all its addresses in turn (libp2p's default is 10 s: not enough for a failed WebRTC attempt and the relay after it). */
export const DIAL_TIMEOUT = 20_000

/** A direct address of a peer we reach only through a relay is dialled again after this long, not sooner. */
export const DIRECT_RETRY_AFTER = 10 * 60_000

/** Addresses remembered as tried for a direct connection (an honest swarm's peers' addresses fit many times over). */
export const DIRECT_TRIED_MAX = 4096

/** How often relayed connections replaced by direct ones are checked for open streams, to close them once they have none (ms). */
export const RELAYED_IDLE_CHECK = 5_000

/** How long a fragment of an erasure-coded root is waited for before it is taken as gone, and rebuilt from others (ms). */
export const ERASURE_FETCH_WAIT = 10_000

/** How long at most an adder keeps the parity it coded for the holders placed then to fetch (ms), and how often it asks whether they have it; after, a parity holder computes its fragment from the data. */
export const ERASURE_SOURCE_TTL = 30 * 60_000
export const ERASURE_SOURCE_POLL = 5_000

/** Stripes fetched or rebuilt at once by one operation. */
export const ERASURE_STRIPES_AT_ONCE = 2

/** A download still running after this long asks whether its root is erasure-coded with data fragments gone, to rebuild them (ms); then twice as long each time, up to ERASURE_ASSIST_MAX (well inside the 30 s a download waits for a block). */
export const ERASURE_ASSIST_AFTER = 2_000
export const ERASURE_ASSIST_MAX = 8_000
