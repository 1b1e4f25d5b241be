/**
 * A download's output is flushed to disk (fdatasync, in the background)
 * each time this many bytes were written to one of its files, so the sync
 * that makes it durable at the end has only the last few MiB left to write.
 */
export const OUTPUT_FLUSH_BYTES = 16 * 1024 * 1024

/**
 * How often libp2p pings each open connection (ms; libp2p's default is 10 s).
 * Shoal does not close a connection whose ping fails (its protocols find dead
 * peers themselves), so the pings only keep round-trip times fresh, and those
 * change slowly. Every peer pings every connection, so in a swarm where each
 * peer is connected to most others the cost grows with the square of its
 * size: 100 daemons on one 2-core machine, 76 connections each, spent more
 * than both cores on pings at 10 s.
 */
export const CONNECTION_PING_INTERVAL = 60_000
