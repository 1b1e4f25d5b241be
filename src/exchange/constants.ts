/** How far back a peer's protocol violations count towards a ban (ms). */
export const VIOLATION_WINDOW = 10 * 60_000

/** How long one provider query of a download may run (ms). */
export const PROVIDER_QUERY_TIMEOUT = 30_000

/** Longest pause between provider queries of a download that has peers (ms). */
export const REDISCOVER_INTERVAL = 30_000

/**
 * A download whose only holders found are reached through a relay that
 * limits us (one not run by our replication group) fails after this long
 * with no other holder (ms): such a relay carries no transfer.
 */
export const LIMITED_ONLY_GRACE = 10_000

/** Pause before asking again when a download has nobody to fetch from (ms). */
export const REDISCOVER_ALONE = 1_000

/** First pause between provider queries of a download that has peers; it doubles up to REDISCOVER_INTERVAL (ms). */
export const REDISCOVER_FIRST = 2_000

/**
 * Want-haves (Bitswap's "do you hold it?") one peer may have looked up per
 * second, and at once: each is a file check and a datastore read. A peer
 * asking faster fills its queue (`maxRequestsPerPeer`) and breaks the limit.
 */
export const HAVE_LOOKUP_RATE = 512
export const HAVE_LOOKUP_BURST = 256

/** Want-haves looked up, and answered in one message, at a time. */
export const HAVE_LOOKUP_BATCH = 64

/**
 * Peer exchange: a swarm sends each peer its list of the others with its
 * hello, and lists of newcomers at most once a PEX_INTERVAL (ms) after
 * that; from one peer it takes PEX_LISTS_BURST lists at once and one an
 * interval after (more are a flood; a new stream brings no new allowance).
 */
export const PEX_INTERVAL = 1000
export const PEX_LISTS_BURST = 4

/**
 * Peer exchange: peer records taken from one peer at once, and per second
 * after that (more are ignored; a new stream brings no new allowance); peers so named a swarm keeps to
 * dial (the oldest go first), and dials of them it runs at once. Their
 * addresses stay in memory, never in the peer store.
 */
export const PEX_RECORDS_BURST = 50
export const PEX_RECORDS_PER_SECOND = 1
export const MAX_PEX_CANDIDATES = 64
export const MAX_PEX_DIALS = 4

/** Candidates from peer exchange a swarm dials per second, once MAX_PEX_CANDIDATES have been (from all peers together). */
export const PEX_DIALS_PER_SECOND = 4

/** Bitfields one peer may send a swarm at once, and per second after that (one per download of the root, honestly); more are a flood. */
export const BITFIELDS_BURST = 8
export const BITFIELDS_PER_SECOND = 0.1

/** Peers whose allowances (bitfields, peer records) a swarm remembers, the most recent kept. */
export const MAX_ALLOWANCES = 256
