/** Protocol of the benchmark's bare-stream baseline peer. */
export const RAW_PROTOCOL = '/shoal-bench/raw/1.0.0'
