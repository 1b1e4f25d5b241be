/**
 * Blocks one walk of a DAG may meet. A walk that follows every link (a
 * file's reader, its download, the swarm's bitfield of its leaves) counts a
 * repeated block each time it meets it; a walk that visits each block once
 * (gc, CAR export, verification) counts distinct blocks. 2 000 000 leaves
 * is a file of 1.9 TiB at Shoal's 1 MiB chunks (480 GiB at Kubo's 256 KiB),
 * and the bitfield that numbers them (250 000 bytes) fits a swarm message.
 * A DAG of a few blocks that links to itself a thousand times per level (a
 * "DAG bomb") meets this bound long before it costs anything.
 */
export const MAX_DAG_BLOCKS = 2_000_000

/**
 * Links from a root to its deepest block. A balanced file of 1024-link
 * nodes is 4 deep at 10^12 leaves; a directory tree adds one level per
 * folder (and a few per HAMT-sharded folder).
 */
export const MAX_DAG_DEPTH = 512

/**
 * Fragments of one stripe of an erasure-coded file (data and parity
 * together). Reed-Solomon over GF(2^8) allows 256; a group's members hold
 * one fragment each, and 64 is more peers than a replication group keeps.
 */
export const MAX_ERASURE_FRAGMENTS = 64
