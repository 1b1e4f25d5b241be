/** How far back a peer's protocol violations count towards a ban (ms). */
export const VIOLATION_WINDOW = 10 * 60_000
