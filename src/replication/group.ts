import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs/promises'
import { ConfigError } from '../errors.js'
import { ReplicaMessage } from '../protocol/pb/replica.js'
import { GROUP_KEY_HEADER, GROUP_PROOF_CONTEXT, MAX_PROVEN_MEMBERS, MEMBER_PROOF_TTL } from './constants.js'
import type { PeerId } from '@libp2p/interface'

export interface ReplicationGroupInit {
  /** The group's shared secret (32 bytes), if the peer belongs to a group. */
  key?: Uint8Array
  /** Peers trusted without a proof (PeerId strings). */
  trustedPeers?: string[]
}

/**
 * Who may make this peer store, release or count replicas: the members of
 * its replication group. A member proves it holds the group's secret key
 * (as an IPFS Cluster peer holds the cluster secret) with an HMAC over the
 * sender's and receiver's PeerIds and the message, in every replica
 * message, requests and answers alike; the connection itself (noise)
 * authenticates the sender's PeerId, so a proof cannot be replayed by
 * anyone else or to anyone else. Peers on the `trustedPeers` list are
 * members without a proof. Without a key or a list a peer belongs to no
 * group: it keeps replicas for nobody, and asks nobody to keep its own.
 */
export class ReplicationGroup {
  private readonly key?: Uint8Array
  private readonly trusted: Set<string>
  /** Peers that proved membership to us, with when they last did (oldest first). */
  private readonly proven = new Map<string, number>()

  constructor (init: ReplicationGroupInit = {}) {
    this.key = init.key
    this.trusted = new Set(init.trustedPeers ?? [])
  }

  /**
   * Whether `peer` is known to be a member: trusted, or it sent us a valid
   * proof within MEMBER_PROOF_TTL (what the relay service asks before it
   * relays without limits).
   */
  isMember (peer: PeerId | string): boolean {
    const id = peer.toString()
    if (this.trusted.has(id)) return true
    const at = this.proven.get(id)
    return at != null && Date.now() - at < MEMBER_PROOF_TTL
  }

  /** Whether this peer belongs to a group at all. */
  get exists (): boolean {
    return this.key != null || this.trusted.size > 0
  }

  /** `msg` with this peer's proof of membership for `to`. */
  seal (msg: ReplicaMessage, from: PeerId, to: PeerId): ReplicaMessage {
    if (this.key == null) return { ...msg, proof: new Uint8Array(0) }
    return { ...msg, proof: this.prove(msg, from, to) }
  }

  /** Whether `msg`, which `from` sent us (`to`), comes from a member of our group. */
  admits (msg: ReplicaMessage, from: PeerId, to: PeerId): boolean {
    if (this.trusted.has(from.toString())) return true
    if (this.key == null || msg.proof.byteLength === 0) return false
    const expected = this.prove(msg, from, to)
    const ok = expected.byteLength === msg.proof.byteLength && timingSafeEqual(expected, msg.proof)
    if (ok) this.remember(from.toString())
    return ok
  }

  private remember (peer: string): void {
    this.proven.delete(peer)
    this.proven.set(peer, Date.now())
    if (this.proven.size > MAX_PROVEN_MEMBERS) this.proven.delete(this.proven.keys().next().value!)
  }

  private prove (msg: ReplicaMessage, from: PeerId, to: PeerId): Uint8Array<ArrayBuffer> {
    const hmac = createHmac('sha256', this.key!)
    hmac.update(GROUP_PROOF_CONTEXT)
    for (const part of [from.toMultihash().bytes, to.toMultihash().bytes, ReplicaMessage.encode({ ...msg, proof: new Uint8Array(0) })]) {
      hmac.update(lengthOf(part))
      hmac.update(part)
    }
    return new Uint8Array(hmac.digest())
  }
}

function lengthOf (bytes: Uint8Array): Uint8Array {
  const n = Buffer.alloc(4)
  n.writeUInt32BE(bytes.byteLength)
  return n
}

/** A new group key file's text: a header line and 32 random bytes in hex. */
export function newGroupKey (): string {
  return `${GROUP_KEY_HEADER}\n${randomBytes(32).toString('hex')}\n`
}

/** Read and check a group key file (see `newGroupKey`). */
export async function readGroupKey (file: string): Promise<Uint8Array> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err: any) {
    throw new ConfigError(`cannot read the replication group key ${file}: ${err.code ?? err.message}`)
  }
  const [header, hex] = text.trim().split(/\s+/)
  if (header !== GROUP_KEY_HEADER || hex == null || !/^[0-9a-f]{64}$/i.test(hex)) {
    throw new ConfigError(`${file} is not a Shoal replication group key (make one with: shoal group-key > group.key)`)
  }
  return Buffer.from(hex, 'hex')
}
