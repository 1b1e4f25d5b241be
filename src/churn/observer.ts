import type { PeerProcess } from './peer-process.js'

export interface TrackedFile {
  cid: string
  size: number
}

export interface Sample {
  /** Seconds since the churn began (negative while setting up). */
  t: number
  live: number
  down: number
  /** Complete copies on running peers, per file, in file order (of an erasure-coded file: distinct fragments). */
  copies: number[]
  /** Complete holders on running peers, per file (more than `copies` while a fragment is held twice). */
  holders: number[]
}

export interface Episode {
  cid: string
  /** When the file dropped below K, and how long it stayed there (seconds). */
  start: number
  seconds: number
  /** Copies were made on peers that never held the file (data moved), rather than a holder coming back. */
  repaired: boolean
  /** Still below K when the run ended. */
  unresolved: boolean
}

/** A loaded daemon may answer slowly: its last answer stands in until it answers again. */
const QUERY_TIMEOUT = 10_000

/**
 * The harness' ground truth: every second it asks every live peer which
 * replicas it holds complete, and from that tracks per file the copies on
 * live peers, the episodes spent below K (and whether data moved to end
 * them), time with no live copy, and the bytes repair moved.
 */
export class ReplicaObserver {
  readonly samples: Sample[] = []
  readonly episodes: Episode[] = []
  /** Per file: seconds below K, and with no live copy at all. */
  readonly belowK: number[]
  readonly noCopy: number[]
  readonly minCopies: number[]
  readonly maxCopies: number[]
  bytesMovedByRepair = 0
  /** Times a peer that held a file complete stopped running (stopped, killed, cut off) while counting. */
  holdersLost = 0
  private readonly below: Array<{ start: number, before: Set<string>, repaired: boolean } | undefined>
  private readonly everHeld: Array<Set<string>>
  private readonly lastHolders: Array<Set<string>>
  private last?: Sample
  private counting = false
  /** Each running peer's last answer: what it held complete, by file index. */
  private readonly lastAnswer = new Map<PeerProcess, Array<[number, number]>>()
  /** Answers that did not come in time (the last one was used instead). */
  lateAnswers = 0

  /**
   * `k`: what each file is kept at (K copies, or K + M fragments); of an
   * erasure-coded file (`needed` > 1) copies are distinct fragments held,
   * and the file is readable while `needed` (K) of them are.
   */
  constructor (readonly files: TrackedFile[], readonly k: number, readonly needed = 1) {
    this.belowK = files.map(() => 0)
    this.noCopy = files.map(() => 0)
    this.minCopies = files.map(() => Infinity)
    this.maxCopies = files.map(() => 0)
    this.below = files.map(() => undefined)
    this.everHeld = files.map(() => new Set())
    this.lastHolders = files.map(() => new Set())
  }

  /** From now on, drops below K are episodes and new holders count as moved data. */
  startCounting (): void {
    this.counting = true
  }

  /** Complete holders of each file among the live peers: peer id → the fragment it keeps (-1: a whole copy). */
  async holders (peers: PeerProcess[]): Promise<Array<Map<string, number>>> {
    const sets = this.files.map(() => new Map<string, number>())
    const index = new Map(this.files.map((f, i) => [f.cid, i]))
    // a peer stopping gracefully still holds and serves its copies until it exits
    await Promise.all(peers.filter(p => p.isRunning).map(async peer => {
      let held: Array<[number, number]>
      try {
        const { replicas } = await peer.client.json('GET', '/v1/replicas', undefined, AbortSignal.timeout(QUERY_TIMEOUT))
        held = (replicas as Array<{ cid: string, self?: string, holders: Array<{ peer: string, fragment?: number }> }>)
          .filter(r => r.self === 'complete' && index.has(r.cid))
          .map(r => [index.get(r.cid)!, r.holders.find(h => h.peer === peer.peerId)?.fragment ?? -1])
        this.lastAnswer.set(peer, held)
      } catch {
        // a running peer that cannot answer in time (overloaded, stopping): its last answer stands
        this.lateAnswers++
        held = this.lastAnswer.get(peer) ?? []
      }
      for (const [i, fragment] of held) if (peer.peerId != null) sets[i].set(peer.peerId, fragment)
    }))
    // a peer that is not running holds nothing live; its next answer starts afresh
    for (const peer of this.lastAnswer.keys()) if (!peer.isRunning) this.lastAnswer.delete(peer)
    return sets
  }

  async sample (t: number, peers: PeerProcess[]): Promise<Sample> {
    const sets = await this.holders(peers)
    const sample: Sample = {
      t,
      live: peers.filter(p => p.isUp).length,
      down: peers.filter(p => p.state === 'down' || p.state === 'stopping').length,
      copies: sets.map(s => copiesOf(s)),
      holders: sets.map(s => s.size)
    }
    const dt = this.last == null ? 0 : t - this.last.t
    const running = new Set(peers.filter(p => p.isRunning).map(p => p.peerId))
    sets.forEach((held, i) => {
      const copies = copiesOf(held)
      const holders = [...held.keys()]
      if (this.counting) {
        this.minCopies[i] = Math.min(this.minCopies[i], copies)
        this.maxCopies[i] = Math.max(this.maxCopies[i], copies)
        if (copies < this.k) this.belowK[i] += dt
        if (copies < this.needed) this.noCopy[i] += dt
        for (const peer of this.lastHolders[i]) if (!held.has(peer) && !running.has(peer)) this.holdersLost++
        for (const peer of holders) {
          if (!this.everHeld[i].has(peer)) {
            this.bytesMovedByRepair += this.files[i].size
            const open = this.below[i]
            if (open != null) open.repaired = true
          }
        }
        const open = this.below[i]
        if (copies < this.k && open == null) {
          this.below[i] = { start: t, before: new Set(holders), repaired: false }
        } else if (copies >= this.k && open != null) {
          this.episodes.push({ cid: this.files[i].cid, start: open.start, seconds: t - open.start, repaired: open.repaired, unresolved: false })
          this.below[i] = undefined
        }
      }
      for (const peer of holders) this.everHeld[i].add(peer)
      this.lastHolders[i] = new Set(holders)
    })
    this.samples.push(sample)
    this.last = sample
    return sample
  }

  /** Close episodes still open at the end of the run. */
  finish (t: number): void {
    this.below.forEach((open, i) => {
      if (open == null) return
      this.episodes.push({ cid: this.files[i].cid, start: open.start, seconds: t - open.start, repaired: open.repaired, unresolved: true })
      this.below[i] = undefined
    })
  }
}

/** Copies of a file: its holders, or of an erasure-coded one the distinct fragments they keep. */
export function copiesOf (held: Map<string, number>): number {
  const fragments = new Set([...held.values()].filter(f => f >= 0))
  return fragments.size > 0 ? fragments.size : held.size
}
