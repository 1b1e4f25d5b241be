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
