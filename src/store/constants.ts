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
 * most this many, over all files: 256 GiB of 1 MiB leaves, some 20 MB).
 */
export const VERIFIED_LEAVES = 1 << 18

/**
 * A file whose times moved less than this long (ms) before the stat taken
 * ahead of a verified read is not trusted for later reads. The times are
 * set when a write begins, and a page written through a shared mapping
 * moves them only on its first write after the kernel wrote it back (within
 * some 35 s): a file still being written must not look settled.
 */
export const UNCHANGED_FOR = 60_000

/**
 * How long what was learnt of a file is trusted (ms): after it, each leaf
 * is hashed once more (so a change no time shows, or the disk's own
 * corruption, is caught within this long).
 */
export const TRUSTED_FOR = 10 * 60_000

/**
 * File systems whose times a stat of an open file reads from the local
 * kernel's own inode, the only ones a leaf is trusted on without hashing
 * (`statfs` f_type): ext2/3/4, XFS, Btrfs, tmpfs, ZFS, F2FS, bcachefs and
 * overlayfs. Elsewhere (NFS, SMB, FUSE, 9p) a stat may answer from a cache
 * another machine's write has not reached, or block on a server.
 */
export const LOCAL_FILE_SYSTEMS = new Set([0xEF53, 0x58465342, 0x9123683E, 0x01021994, 0x2FC12FC1, 0xF2F52010, 0xCA451A4E, 0x794C7630])
