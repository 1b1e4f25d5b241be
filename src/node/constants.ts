/**
 * A download's output is flushed to disk (fdatasync, in the background)
 * each time this many bytes were written to one of its files, so the sync
 * that makes it durable at the end has only the last few MiB left to write.
 */
export const OUTPUT_FLUSH_BYTES = 16 * 1024 * 1024
