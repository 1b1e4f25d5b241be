/** How far back a peer's protocol violations count towards a ban (ms). */
export const VIOLATION_WINDOW = 10 * 60_000

/** How long one provider query of a download may run (ms). */
export const PROVIDER_QUERY_TIMEOUT = 30_000

/** Longest pause between provider queries of a download that has peers (ms). */
export const REDISCOVER_INTERVAL = 30_000

/** Pause before asking again when a download has nobody to fetch from (ms). */
export const REDISCOVER_ALONE = 1_000

/** First pause between provider queries of a download that has peers; it doubles up to REDISCOVER_INTERVAL (ms). */
export const REDISCOVER_FIRST = 2_000
