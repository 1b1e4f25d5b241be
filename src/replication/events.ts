/** What one round cost (the `probe:round` event). */
export interface RoundFigures {
  /** Peers synced with (requests sent to). */
  peers: number
  /** STATUS requests sent (pages), and entries and dropped roots they carried. */
  requests: number
  entries: number
  /** Replica-protocol bytes sent and received while the round ran (its requests and answers, and whatever else went meanwhile). */
  bytesSent: number
  bytesReceived: number
  ms: number
}

/**
 * What the replica manager does, as typed events: the daemon's log and
 * anything else that watches replication listen to these.
 */
export interface ReplicaEvents {
  /** What we know of a root's copies changed (detail: the root CID). */
  change: CustomEvent<string>
  /** We took a copy of a root another peer asked us to keep. */
  'replica:accepted': CustomEvent<{ root: string, from: string, state: 'fetching' | 'complete' }>
  /** We declined to keep a root. */
  'replica:declined': CustomEvent<{ root: string, from: string, reason: string }>
  /** Our copy of a replica is complete. */
  'replica:complete': CustomEvent<{ root: string, seconds: number }>
  /** Fetching our copy failed: retried in `retryIn` ms, or (none) given up, its content refused. */
  'replica:failed': CustomEvent<{ root: string, error: string, retryIn?: number }>
  /** We no longer keep a root as a replica (`by`: the leader that trimmed it, or the user). */
  'replica:released': CustomEvent<{ root: string, by: string }>
  /** A holder we probe stopped answering. */
  'holder:absent': CustomEvent<{ peer: string, error: string, roots: number }>
  /** A holder that had stopped answering answers again. */
  'holder:back': CustomEvent<{ peer: string, downFor: number }>
  /** A holder stopped gracefully, after handing its copies over: it no longer counts for `roots` we hold with it. */
  'holder:left': CustomEvent<{ peer: string, roots: number }>
  /** A holder has been gone for longer than the grace period: its copy no longer counts. */
  'holder:gone': CustomEvent<{ root: string, peer: string }>
  /** As a root's leader we started placing copies. */
  'repair:start': CustomEvent<{ root: string, copies: number, wanted: number, placing: number }>
  /** A peer we asked to keep a copy did not take it (`reason`: its own, or that it is not in our group). */
  'repair:declined': CustomEvent<{ root: string, peer: string, reason: string }>
  /** A peer took a copy we asked it to keep. */
  'repair:placed': CustomEvent<{ root: string, peer: string, state: 'fetching' | 'complete', fragment?: number }>
  /** A root we lead is back at K complete copies. */
  'repair:done': CustomEvent<{ root: string, copies: number, seconds: number }>
  /** As a root's leader we released a surplus copy. */
  trim: CustomEvent<{ root: string, peer: string, copies: number, max: number }>
  /** A round of syncs with the other holders ended: what it cost. */
  'probe:round': CustomEvent<RoundFigures>
  /** A graceful stop is handing copies over (sent every few seconds until done): how many roots wait, the first few of them. */
  handover: CustomEvent<{ pending: number, waiting: Array<{ root: string, copies: number, wanted: number }>, seconds: number, timeout: number }>
}
