/** How long `shoal connect` may take to dial (ms). */
export const CONNECT_TIMEOUT = 30_000

/** How long `shoal providers` looks by default (ms). */
export const PROVIDERS_TIMEOUT = 10_000

/**
 * Node flags a daemon is started with (bin/shoal passes the same):
 * - a small young generation (2 MiB per semi-space, Node's default is 16),
 *   so the short-lived block buffers of a transfer are collected sooner and
 *   an idle daemon holds about 25 MB less (measured in `npm run bench`, memory);
 * - V8's garbage collection on the main thread only. A transfer's buffers
 *   live outside the heap, and every 64 MiB or so of them starts a full
 *   collection; its parallel and concurrent helper threads spent more CPU
 *   than the whole main thread of a seeder (0.35 against 0.48 CPU-s per
 *   256 MiB served) and took it from the other work on the machine. With
 *   one thread, a 256 MiB get between two daemons on two cores (farm-bench,
 *   8 pairs): fetch 1.00 s against 1.09, seeder 0.82 CPU-s against 1.05,
 *   downloader 0.85 against 0.98. A collection's pause grows (a daemon's
 *   heap is some 40 MB: tens of ms), which a file-sharing daemon can afford.
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=2', '--single-threaded-gc']

/** Gateway requests served at once; more are answered 429 (Retry-After: 1). */
export const GATEWAY_MAX_REQUESTS = 32

/** How long a gateway request waits for content nobody is found to hold, or that stops arriving, before a 504 (ms). */
export const GATEWAY_FIND_TIMEOUT = 30_000

/** A gateway client must send its request headers within this (ms). */
export const GATEWAY_HEADERS_TIMEOUT = 10_000

/** How long a one-time link from `shoal webui` signs a browser in (ms). */
export const TICKET_TTL = 120_000

/**
 * How long a browser's session on the web page lasts (ms): a day. The
 * cookie is a bearer credential in the browser's cookie jar; a day covers a
 * day's use (and the daemon's restarts) and bounds what a copied cookie is
 * worth even if nobody runs `shoal webui --revoke`.
 */
export const SESSION_TTL = 24 * 3600_000

/**
 * The shortest `api.token` the daemon accepts (characters, visible ASCII):
 * 32 hex digits are 128 bits. The daemon makes 64 hex digits (32 random
 * bytes); a shorter or empty token is replaced by a fresh one.
 */
export const MIN_API_TOKEN_LENGTH = 32

/** Bytes of the web page's signing key (`webui.secret`, hex): one of another length or not hex is replaced. */
export const WEB_SECRET_BYTES = 32

/** How often the web page's feed sends a snapshot (ms), while a page is open. */
export const FEED_INTERVAL = 1_000

/** Bandwidth samples the feed keeps for the page's chart: ten minutes of them. */
export const FEED_HISTORY = 600
