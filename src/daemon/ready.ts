import fs from 'node:fs'

/**
 * What a daemon says, as one JSON line, on the file descriptor given with
 * `--ready-fd` once it serves: for whoever started it (a supervisor, the
 * churn harness, the tests) to learn where it is without parsing its log.
 */
export interface ReadyEvent {
  event: 'ready'
  pid: number
  peerId: string
  /** Full multiaddrs (with /p2p/) it listens on. */
  addresses: string[]
  /** The control API's Unix socket, and its TCP URL when there is one. */
  api: string
  apiUrl?: string
  /** The trustless gateway's URL, with `--gateway`. */
  gatewayUrl?: string
  /** `http://host:port` of the metrics endpoint (`/metrics`, `/healthz`), with `--metrics`. */
  metricsUrl?: string
  /** `http://host:port` of the web page (sign in with `shoal webui`). */
  webuiUrl?: string
}

/** Write the ready event to `fd` and close it. Returns the error when the descriptor was not open for writing. */
export function announceReady (fd: number, event: Omit<ReadyEvent, 'event' | 'pid'>): Error | undefined {
  try {
    fs.writeSync(fd, JSON.stringify({ event: 'ready', pid: process.pid, ...event }) + '\n')
    fs.closeSync(fd)
    return undefined
  } catch (err: any) {
    return err
  }
}
