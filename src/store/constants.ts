/** Files the reference store keeps open for reading at once (least recently used ones are closed). */
export const REF_HANDLES = 64

/** How often a running daemon compares referenced files' sizes and times with what it recorded (ms). */
export const REF_CHECK_INTERVAL = 10_000

/** Leaves whose locations the reference store keeps in memory (the datastore holds them all). */
export const REF_CACHE = 8192
