/** Exit codes of the `shoal` command (documented in the README). */
export const EXIT = {
  OK: 0,
  /** Anything not covered below. */
  ERROR: 1,
  /** Bad arguments or input: unknown option, malformed CID or multiaddr, missing file. */
  USAGE: 2,
  /** No daemon is running for the repo. */
  NO_DAEMON: 3,
  /** The content could not be found or fetched (no reachable holder in time). */
  NOT_FOUND: 4,
  /** A disk is full: the repo's (free space or run `shoal gc`) or the output's. */
  DISK_FULL: 5,
  /** The daemon went away while the command ran (its connection closed): start it and run the command again. */
  DAEMON_GONE: 6,
  /** The content was refused: its DAG is past Shoal's bounds (more blocks, deeper, or sizes that contradict it). */
  REFUSED: 7,
  /** Interrupted by Ctrl-C. */
  INTERRUPTED: 130
} as const

/** The exit code for a typed error's name. */
export function exitCodeFor (name: string): number {
  switch (name) {
    case 'InvalidCIDError':
    case 'InputError':
    case 'ConfigError':
    case 'NotAFileError':
    case 'UsageError':
    case 'ReplicationError':
      return EXIT.USAGE
    case 'DaemonNotRunningError':
      return EXIT.NO_DAEMON
    case 'NotFoundError':
    case 'NoProvidersError':
    case 'BlockNotFoundError':
      return EXIT.NOT_FOUND
    case 'DiskFullError':
      return EXIT.DISK_FULL
    case 'DaemonGoneError':
      return EXIT.DAEMON_GONE
    case 'DagLimitError':
      return EXIT.REFUSED
    default:
      return EXIT.ERROR
  }
}
