import { createHash } from 'node:crypto'
import { MAX_ERASURE_FRAGMENTS } from '../content/constants.js'
import * as varint from 'uint8-varint'
import { MAX_HOLDERS_PER_ROOT, MAX_REPLICA_MESSAGE_SIZE, MAX_REPLICA_ROOTS } from '../protocol/constants.js'
import { ReplicaState, RootReplicas } from '../protocol/pb/replica.js'
import { MAX_REASON_LENGTH, MAX_REPLICAS, PAGE_SHARE_OF_LIMITS } from './constants.js'

/**
 * How much of the protocol's limits one request of ours may use, and the
 * worst case of an entry, computed from the limits rather than guessed.
 *
 * Why an honest peer never trips a receiver's `maxViolations`: a replica
 * message counts as a violation only when it does not decode within the
 * receiver's limits (size, roots, holders, dropped and reachable lists) or
 * breaks the framing. Every message this peer sends, request or answer,
 * goes through `encodeReplicaMessage`, which checks those same limits and
 * refuses to send one past them; and no sender builds one that would be:
 * a sync page holds at most PAGE_ROOTS roots and PAGE_BYTES bytes of them
 * (a quarter of each limit) plus its envelope (a proof, at most 256
 * reachable peers: under 13 KiB); its answer holds at most one NONE entry
 * per entry asked, each smaller than the entry; a query (a hand-over)
 * names at most QUERY_PAGE_ROOTS roots, so its answer of full entries is
 * at most a page; every other request (a status query, a reconciler's
 * probe, a placement's offer or release, a goodbye) names one root or none.
 * An entry names at most MAX_HOLDERS_PER_ROOT holders (`holderList`), a
 * reason at most MAX_REASON_LENGTH characters, a root at most
 * MAX_ROOT_BYTES (REPLICATE declines others). Tested with 10 000 roots
 * whose views know more holders than a message may name
 * (test/replication/sync.spec.ts).
 *
 * A root Shoal keeps is named by a CIDv1 (or v0) of a SHA-256 multihash:
 * version (1 byte), codec (a varint, at most 9 bytes), hash code and
 * length (1 byte each) and the 32-byte digest: at most 44 bytes. A PeerId
 * is an identity multihash of a public key of at most 42 bytes (libp2p
 * hashes longer keys with SHA-256, 34 bytes): at most 44 bytes. An entry
 * names at most MAX_HOLDERS_PER_ROOT holders, live and absent together (an
 * absent one also carries how long it has been down), and of an
 * erasure-coded root each holder's fragment and its layout's CID (a
 * SHA-256 CID, as a root); its numbers are at most 64 bits, its reason at
 * most MAX_REASON_LENGTH characters.
 */
export const MAX_ROOT_BYTES = 44
export const MAX_PEER_ID_BYTES = 44

/** Bytes an entry takes inside a ReplicaMessage: field tag, length prefix and body. */
function entryBytes (body: Uint8Array | number): number {
  const length = typeof body === 'number' ? body : body.byteLength
  return 1 + varint.encodingLength(length) + length
}

/** The largest entry any peer may send: every field at its largest (an upper bound: a holder is either live or absent). */
function worstEntry (): RootReplicas {
  const max64 = 2n ** 64n - 1n
  return {
    root: new Uint8Array(MAX_ROOT_BYTES).fill(0xff),
    min: MAX_REPLICAS,
    max: MAX_REPLICAS,
    size: max64,
    state: ReplicaState.DECLINED,
    holders: [],
    reason: '\u{10FFFF}'.repeat(MAX_REASON_LENGTH),
    intentSince: max64,
    bytesHeld: max64,
    digest: max64,
    absent: Array.from({ length: MAX_HOLDERS_PER_ROOT }, () => ({ peer: new Uint8Array(MAX_PEER_ID_BYTES).fill(0xff), downFor: max64, fragment: MAX_ERASURE_FRAGMENTS })),
    erasureK: MAX_ERASURE_FRAGMENTS,
    erasureM: MAX_ERASURE_FRAGMENTS,
    layout: new Uint8Array(MAX_ROOT_BYTES).fill(0xff),
    fragment: MAX_ERASURE_FRAGMENTS,
    holderFragments: Array.from({ length: MAX_HOLDERS_PER_ROOT }, () => MAX_ERASURE_FRAGMENTS)
  }
}

/** The most bytes one entry can take in a replica message. */
export const MAX_ENTRY_BYTES = entryBytes(RootReplicas.encode(worstEntry()))

/** Bytes of entries (and dropped roots) one sync page carries at most. */
export const PAGE_BYTES = Math.floor(MAX_REPLICA_MESSAGE_SIZE / PAGE_SHARE_OF_LIMITS)

/** Entries and dropped roots one sync page carries at most. */
export const PAGE_ROOTS = Math.floor(MAX_REPLICA_ROOTS / PAGE_SHARE_OF_LIMITS)

/**
 * Roots one STATUS query (full entries both ways, as a hand-over asks) names
 * at most: the answer holds an entry per root, each at most MAX_ENTRY_BYTES,
 * whatever the question held.
 */
export const QUERY_PAGE_ROOTS = Math.max(1, Math.floor(PAGE_BYTES / MAX_ENTRY_BYTES))

/** One of our entries, encoded once: its digest and size go with it. */
export interface OurEntry {
  key: string
  entry: RootReplicas
  /** Bytes it takes in a message. */
  bytes: number
}

/**
 * Our entry and its digest: the first 64 bits of the SHA-256 of its
 * encoding, so it changes whenever anything in it does. Only the sender
 * computes it; the receiver keeps it as given.
 */
export function withDigest (key: string, entry: RootReplicas): OurEntry {
  const body = RootReplicas.encode({ ...entry, digest: 0n })
  const digest = createHash('sha256').update(body).digest().readBigUInt64BE(0)
  // the digest field adds its tag and 8 bytes
  return { key, entry: { ...entry, digest }, bytes: entryBytes(body.byteLength + 9) }
}

/** A digest as read from the wire: protons reads a fixed64 as signed, ours are unsigned. */
export function unsigned64 (n: bigint): bigint {
  return BigInt.asUintN(64, n)
}

/** What one page of a sync carries. */
export interface Page {
  entries: OurEntry[]
  /** Roots we still hold but no longer tell this peer about. */
  dropped: Array<{ key: string, root: Uint8Array<ArrayBuffer> }>
}

/**
 * Cut what a sync has to say into pages of at most PAGE_ROOTS roots and
 * PAGE_BYTES bytes of them (entries first, then dropped roots). Always at
 * least one page, empty if there is nothing to say: the round's probe.
 */
export function * pages (entries: OurEntry[], dropped: Page['dropped']): Generator<Page> {
  let page: Page = { entries: [], dropped: [] }
  let count = 0
  let bytes = 0
  let sent = false
  const fits = (size: number): boolean => count + 1 <= PAGE_ROOTS && bytes + size <= PAGE_BYTES
  for (const e of entries) {
    if (!fits(e.bytes) && count > 0) {
      yield page
      sent = true
      page = { entries: [], dropped: [] }
      count = 0
      bytes = 0
    }
    page.entries.push(e)
    count++
    bytes += e.bytes
  }
  for (const d of dropped) {
    const size = entryBytes(d.root)
    if (!fits(size) && count > 0) {
      yield page
      sent = true
      page = { entries: [], dropped: [] }
      count = 0
      bytes = 0
    }
    page.dropped.push(d)
    count++
    bytes += size
  }
  if (count > 0 || !sent) yield page
}
