/**
 * Typed errors. Each has a stable `name` that callers (and the control API)
 * match on; the message is for humans only.
 */

export class ShoalError extends Error {
  static override readonly name: string = 'ShoalError'
  override name = 'ShoalError'
}

/** A CID string that does not parse. */
export class InvalidCIDError extends ShoalError {
  static override readonly name = 'InvalidCIDError'
  override name = 'InvalidCIDError'
}

/** Bytes that do not hash to the CID they were offered for. */
export class BlockVerificationError extends ShoalError {
  static override readonly name = 'BlockVerificationError'
  override name = 'BlockVerificationError'
}

/** A CID whose hash function Shoal does not verify (only sha2-256 is accepted). */
export class UnsupportedHashError extends ShoalError {
  static override readonly name = 'UnsupportedHashError'
  override name = 'UnsupportedHashError'
}

/** A block asked of the local store that it does not hold. */
export class BlockNotFoundError extends ShoalError {
  static override readonly name = 'BlockNotFoundError'
  override name = 'BlockNotFoundError'
}

/** No peer could be found, or reached, that holds the content. */
export class NoProvidersError extends ShoalError {
  static override readonly name = 'NoProvidersError'
  override name = 'NoProvidersError'
}

/**
 * How a peer broke the wire protocol: a message that does not decode, one
 * past the size limit, a stream cut inside a message, more requests than
 * the limits allow (a flood), blocks or peer records nobody asked for.
 */
export type ViolationKind = 'malformed' | 'oversized' | 'truncated' | 'flood' | 'unsolicited'

/** A peer broke the wire protocol (bad message, too many requests…). */
export class ProtocolViolationError extends ShoalError {
  static override readonly name = 'ProtocolViolationError'
  override name = 'ProtocolViolationError'
  readonly kind: ViolationKind

  constructor (message: string, kind: ViolationKind = 'malformed') {
    super(message)
    this.kind = kind
  }
}

/** The repo is missing, locked by another daemon, or malformed. */
export class RepoError extends ShoalError {
  static override readonly name = 'RepoError'
  override name = 'RepoError'
}

/** A bad value in config.json or on the command line. */
export class ConfigError extends ShoalError {
  static override readonly name = 'ConfigError'
  override name = 'ConfigError'
}

/** A local input (file to add, output path) that cannot be used. */
export class InputError extends ShoalError {
  static override readonly name = 'InputError'
  override name = 'InputError'
}

/** The requested content is not a file/directory Shoal can export. */
export class NotAFileError extends ShoalError {
  static override readonly name = 'NotAFileError'
  override name = 'NotAFileError'
}

/** Nothing holding the content (or its replicas) answered. */
export class NotFoundError extends ShoalError {
  static override readonly name = 'NotFoundError'
  override name = 'NotFoundError'
}

/** A replication request that cannot be honoured (bad replica counts…). */
export class ReplicationError extends ShoalError {
  static override readonly name = 'ReplicationError'
  override name = 'ReplicationError'
}

/** A peer tried to make us store more than its share (DHT provider records). */
export class QuotaExceededError extends ShoalError {
  static override readonly name = 'QuotaExceededError'
  override name = 'QuotaExceededError'
}

/**
 * A DAG whose shape is beyond what Shoal walks (more blocks than a walk may
 * meet, deeper than it may go, or sizes that contradict each other): refused
 * in bounded time and memory, whoever sent it.
 */
export class DagLimitError extends ShoalError {
  static override readonly name = 'DagLimitError'
  override name = 'DagLimitError'
}

/**
 * Whether `err` says the content itself is refused (malformed, hostile, past
 * the bounds of a DAG, not a file or directory): no retry would fetch it.
 */
export function isRefused (err: unknown): boolean {
  const name = (err as { name?: unknown } | undefined)?.name
  return name === 'DagLimitError' || name === 'InputError' || name === 'NotAFileError'
}

/** Fragments of an erasure-coded stripe that cannot give back its data: too few of them, or of the wrong sizes. */
export class ErasureError extends ShoalError {
  static override readonly name = 'ErasureError'
  override name = 'ErasureError'
}

/** A write failed because a disk is full (ENOSPC, EDQUOT): the repo's, or the output's. */
export class DiskFullError extends ShoalError {
  static override readonly name = 'DiskFullError'
  override name = 'DiskFullError'
}

/** Whether `err` (or its cause) is a write that failed for lack of space. */
export function isDiskFull (err: unknown): boolean {
  for (let e: any = err, depth = 0; e != null && depth < 4; e = e.cause, depth++) {
    if (e.code === 'ENOSPC' || e.code === 'EDQUOT') return true
    if (typeof e.message === 'string' && /ENOSPC|EDQUOT|no space left on device/i.test(e.message)) return true
  }
  return false
}

/** A replica message from a peer outside this peer's replication group (no valid proof). */
export class NotMemberError extends ShoalError {
  static override readonly name = 'NotMemberError'
  override name = 'NotMemberError'
}

/** A replica message this peer was about to send is past the protocol's limits: it is not sent (the receiver would take it for a violation). */
export class MessageTooLargeError extends ShoalError {
  static override readonly name = 'MessageTooLargeError'
  override name = 'MessageTooLargeError'
}

/** The user interrupted the command (Ctrl-C); the message says what became of the work. */
export class InterruptedError extends ShoalError {
  static override readonly name = 'InterruptedError'
  override name = 'InterruptedError'
}

/** A command line the parser refused (unknown option, missing argument…). */
export class UsageError extends ShoalError {
  static override readonly name = 'UsageError'
  override name = 'UsageError'
}

/** A daemon child process that exited, or did not say it was ready, in time. */
export class DaemonStartError extends ShoalError {
  static override readonly name = 'DaemonStartError'
  override name = 'DaemonStartError'
}
