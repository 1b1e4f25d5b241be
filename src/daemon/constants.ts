/** How long `shoal connect` may take to dial (ms). */
export const CONNECT_TIMEOUT = 30_000

/** How long `shoal providers` looks by default (ms). */
export const PROVIDERS_TIMEOUT = 10_000

/**
 * Node flags a daemon is started with (bin/shoal passes the same): a small
 * young generation (2 MiB per semi-space, Node's default is 16), so the
 * short-lived block buffers of a transfer are collected sooner and an idle
 * daemon holds about 25 MB less (measured in `npm run bench`, memory).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=2']

/** Gateway requests served at once; more are answered 429 (Retry-After: 1). */
export const GATEWAY_MAX_REQUESTS = 32

/** How long a gateway request waits for content nobody is found to hold, or that stops arriving, before a 504 (ms). */
export const GATEWAY_FIND_TIMEOUT = 30_000

/** A gateway client must send its request headers within this (ms). */
export const GATEWAY_HEADERS_TIMEOUT = 10_000
