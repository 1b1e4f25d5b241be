/**
 * A download's output is flushed to disk (fdatasync, in the background)
 * each time this many bytes were written to one of its files, so the sync
 * that makes it durable at the end has only the last few MiB left to write.
 */
export const OUTPUT_FLUSH_BYTES = 16 * 1024 * 1024

/**
 * With metrics on, how often Node's event-loop delay monitor samples (ms).
 * prom-client's default of 10 ms wakes an idle daemon a hundred times a
 * second: measured with 24 idle daemons, metrics on cost 0.5 % of a core
 * each, the rest of the daemon 0.3 %. A sample a second still shows a
 * stalled loop.
 */
export const EVENT_LOOP_SAMPLE_INTERVAL = 1000
