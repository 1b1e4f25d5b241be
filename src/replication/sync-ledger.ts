import { MAX_SYNC_PEERS } from './constants.js'

/**
 * One peer's entries as digests, by root, with the XOR of them all kept up
 * to date: two sides agree on a set of entries when their XORs (and sizes)
 * are equal.
 */
export class DigestSet {
  private readonly digests = new Map<string, bigint>()
  /** XOR of every digest in the set. */
  xor = 0n

  get size (): number {
    return this.digests.size
  }

  get (root: string): bigint | undefined {
    return this.digests.get(root)
  }

  has (root: string): boolean {
    return this.digests.has(root)
  }

  set (root: string, digest: bigint): void {
    this.delete(root)
    this.digests.set(root, digest)
    this.xor ^= digest
  }

  delete (root: string): void {
    const old = this.digests.get(root)
    if (old == null) return
    this.digests.delete(root)
    this.xor ^= old
  }

  clear (): void {
    this.digests.clear()
    this.xor = 0n
  }

  keys (): IterableIterator<string> {
    return this.digests.keys()
  }
}

interface PeerSync {
  /** Our entries the peer acknowledged; unset: the next sync starts from scratch (a reset). */
  sent?: DigestSet
  /** The peer's entries we took from its syncs. */
  heard: DigestSet
}

/**
 * Where each sync between this peer and another stands, both ways: what
 * the other acknowledged of ours (`sent`), and what we keep of its
 * (`heard`). Forgetting either side is always safe: the next sync finds the
 * digests differ and starts again from scratch. At most MAX_SYNC_PEERS
 * peers; past that the one least recently touched is forgotten.
 */
export class SyncLedger {
  private readonly peers = new Map<string, PeerSync>()

  /** What `peer` acknowledged of our entries; undefined when the next sync is a reset. */
  sent (peer: string): DigestSet | undefined {
    return this.peers.get(peer)?.sent
  }

  /** `peer` acknowledged a reset: from now on, what it keeps of ours is this set. */
  restarted (peer: string): DigestSet {
    const sync = this.touch(peer)
    sync.sent = new DigestSet()
    return sync.sent
  }

  /** The next sync to `peer` starts from scratch (its digest did not match ours). */
  restart (peer: string): void {
    const sync = this.peers.get(peer)
    if (sync != null) sync.sent = undefined
  }

  /** What we keep of `peer`'s entries. */
  heard (peer: string): DigestSet {
    return this.touch(peer).heard
  }

  /** We no longer know what `peer` says of `root` (we forgot it as a holder): its next sync finds the digests differ and sends everything again. */
  forgetHeard (peer: string, root: string): void {
    this.peers.get(peer)?.heard.delete(root)
  }

  /** Forget both sides with `peer` (it left, or it is no longer one we share anything with). */
  forget (peer: string): void {
    this.peers.delete(peer)
  }

  /** Peers we have told something, each with what it acknowledged. */
  * told (): IterableIterator<[string, DigestSet]> {
    for (const [peer, sync] of this.peers) if (sync.sent != null && sync.sent.size > 0) yield [peer, sync.sent]
  }

  get size (): number {
    return this.peers.size
  }

  private touch (peer: string): PeerSync {
    let sync = this.peers.get(peer)
    if (sync == null) {
      sync = { heard: new DigestSet() }
      if (this.peers.size >= MAX_SYNC_PEERS) this.peers.delete(this.peers.keys().next().value!)
    } else {
      this.peers.delete(peer)
    }
    this.peers.set(peer, sync)
    return sync
  }
}
