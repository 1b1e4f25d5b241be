/** Files the reference store keeps open for reading at once (least recently used ones are closed). */
export const REF_HANDLES = 64

/** How often a running daemon compares referenced files' sizes and times with what it recorded (ms). */
export const REF_CHECK_INTERVAL = 10_000

/** Leaves whose locations the reference store keeps in memory (the datastore holds them all). */
export const REF_CACHE = 8192

/**
 * Space a repo keeps for itself in a file of its own (`reserve`): when the
 * disk is full even the pin database cannot record that a pin is gone, and
 * with leaves kept by reference deleting a root's blocks frees next to
 * nothing. `rm` gives this back to write, and takes it again when it can.
 */
export const RESERVE_BYTES = 1024 * 1024

/**
 * Blocks reads stored (and nothing keeps) that must have piled up before a
 * repo past its storage limit collects them: a gc walks every kept DAG and
 * makes new operations wait, so it is not run for a few blocks.
 */
export const STORAGE_COLLECT_MIN = 16 * 1024 * 1024

/**
 * Leaves read from referenced files and found intact, remembered so that a
 * leaf served again from a file unchanged since is not hashed again (at
 * most this many, over all files).
 */
export const VERIFIED_LEAVES = 1 << 20

/**
 * A file changed less than this long (ms) before the stat taken ahead of a
 * verified read is not trusted for later reads: a change within the same
 * tick of the file system's clock would leave its times as they were.
 */
export const UNCHANGED_FOR = 2_000
