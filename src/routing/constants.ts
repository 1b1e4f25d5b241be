/** One dial of a bootstrap peer (ms). */
export const BOOTSTRAP_DIAL_TIMEOUT = 10_000
/** While no bootstrap peer answered and no peer is connected, retries start after this and double… (ms) */
export const BOOTSTRAP_RETRY = 5_000
/** …up to this (ms). */
export const BOOTSTRAP_MAX_RETRY = 300_000
