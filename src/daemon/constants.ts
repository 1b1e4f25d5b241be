/** How long `shoal connect` may take to dial (ms). */
export const CONNECT_TIMEOUT = 30_000

/** How long `shoal providers` looks by default (ms). */
export const PROVIDERS_TIMEOUT = 10_000
