import { peerIdFromMultihash } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import * as Digest from 'multiformats/hashes/digest'
import { ProtocolViolationError } from '../errors.js'
import { anySignal } from '../signals.js'
import { MAX_PEERS_PER_MESSAGE, MAX_ADDRS_PER_PEER, MAX_HAVES_PER_MESSAGE } from '../protocol/constants.js'
import { Bitfield } from './bitfield.js'
import { BITFIELDS_BURST, BITFIELDS_PER_SECOND, MAX_ALLOWANCES, MAX_PEX_CANDIDATES, MAX_PEX_DIALS, PEX_DIALS_PER_SECOND, PEX_INTERVAL, PEX_LISTS_BURST, PEX_RECORDS_BURST, PEX_RECORDS_PER_SECOND } from './constants.js'
import { TokenBucket } from './token-bucket.js'
import type { SwarmChannel, SwarmMessage, SwarmNetwork } from '../protocol/swarm-network.js'
import type { Logger, PeerId, PeerInfo, PeerStore } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

/** What we know a remote peer holds of this root. */
export class RemotePeer {
  readonly id: PeerId
  readonly key: string
  readonly channel: SwarmChannel
  /** It said it holds every block. */
  complete = false
  /** Its bitfield over the leaves, once it told us. */
  bitfield?: Bitfield
  /** It has sent its first state message. */
  heard = false
  /** Haves it sent since its last bitfield: an honest peer announces each leaf about once. */
  haves = 0

  constructor (channel: SwarmChannel) {
    this.id = channel.peer
    this.key = channel.peer.toString()
    this.channel = channel
  }

  /** Whether it holds leaf `i` (undefined: it has not said). */
  hasLeaf (i: number): boolean | undefined {
    if (this.complete) return true
    if (this.bitfield == null) return undefined
    return this.bitfield.has(i)
  }

  /** Whether it holds anything we could ask for. */
  get holdsSomething (): boolean {
    return this.complete || (this.bitfield?.count ?? 0) > 0
  }
}

export interface SwarmEvents {
  /** A peer's first state, or a change to complete. */
  'peer:state': CustomEvent<RemotePeer>
  /** A peer verified and stored new leaves. */
  'peer:have': CustomEvent<{ peer: RemotePeer, indices: number[] }>
  'peer:gone': CustomEvent<RemotePeer>
  /** Peer exchange named a peer in this swarm we are not talking to (`connect` dials it at the addresses given). */
  discovered: CustomEvent<PeerInfo>
}

export interface SwarmComponents {
  network: SwarmNetwork
  peerStore: PeerStore
  self: PeerId
  log: Logger
}

/** What a peer may still send this swarm, kept past its stream (a new stream starts no new allowance). */
interface Allowance {
  /** Bitfields (more are a flood). */
  bitfields: TokenBucket
  /** Messages with peer records (more are a flood). */
  lists: TokenBucket
  /** Peer records (more are ignored). */
  records: TokenBucket
}

/** How often batched `have` announcements go out (ms). */
const HAVE_FLUSH_INTERVAL = 100

/**
 * Who has what for one root: one swarm stream per peer, our own state
 * (complete, or a bitfield over the leaves plus incremental haves) sent to
 * each, theirs received, and peer exchange so that peers sharing a root find
 * each other. Used by a download session, and by a seeder answering
 * downloaders of a root it holds.
 */
export class Swarm extends TypedEventEmitter<SwarmEvents> {
  readonly root: CID
  readonly peers = new Map<string, RemotePeer>()
  private readonly c: SwarmComponents
  private complete: boolean
  private bitfield?: Bitfield
  private pendingHaves: number[] = []
  private flushTimer?: ReturnType<typeof setTimeout>
  /** Newcomers not introduced to the others yet. */
  private newcomers: RemotePeer[] = []
  private introduceTimer?: ReturnType<typeof setTimeout>
  private readonly opening = new Set<string>()
  /** Peers that peer exchange named, with the addresses given, oldest first: dialled once each, never written to the peer store. */
  private readonly candidates = new Map<string, Multiaddr[]>()
  /** Dials of candidates running, and those waiting for one to end (at most MAX_PEX_CANDIDATES wait). */
  private dialing = 0
  private readonly dialQueue: Array<{ go(): void, giveUp(): void }> = []
  /** Dials of candidates: so many a second, whoever named them (a new identity brings a new allowance of records, not of dials). */
  private readonly dialBudget = new TokenBucket(PEX_DIALS_PER_SECOND, MAX_PEX_CANDIDATES)
  private readonly closing = new AbortController()
  /** Each peer's allowance, the most recent last (at most MAX_ALLOWANCES). */
  private readonly allowances = new Map<string, Allowance>()
  private closed = false

  constructor (root: CID, components: SwarmComponents, complete: boolean) {
    super()
    this.root = root
    this.c = components
    this.complete = complete
  }

  get size (): number {
    return this.peers.size
  }

  get isComplete (): boolean {
    return this.complete
  }

  /** We now know the DAG's leaves and which of them we hold. */
  setLeaves (bitfield: Bitfield): void {
    this.bitfield = bitfield
    this.pendingHaves = []
    this.broadcast(this.stateMessage())
  }

  /** We verified and stored leaf `index`. */
  have (index: number): void {
    if (this.bitfield == null || !this.bitfield.set(index)) return
    this.pendingHaves.push(index)
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined
      const have = this.pendingHaves.splice(0)
      if (have.length > 0) this.broadcast({ have })
    }, HAVE_FLUSH_INTERVAL)
  }

  /** We hold every block now. */
  setComplete (): void {
    if (this.complete) return
    this.complete = true
    this.broadcast({ complete: true })
  }

  /**
   * Open a swarm stream to `peer` unless we have one; resolves when it is
   * open, or at once if the peer is a candidate from peer exchange that could
   * not be reached (it is not looked up elsewhere).
   */
  async connect (peer: PeerId, signal?: AbortSignal): Promise<void> {
    const key = peer.toString()
    if (this.closed || peer.equals(this.c.self) || this.peers.has(key) || this.opening.has(key)) return
    this.opening.add(key)
    try {
      if (!await this.reach(peer, signal)) return
      const channel = await this.c.network.open(peer, this.root, { signal })
      if (this.closed || this.peers.has(key)) {
        await channel.close()
        return
      }
      this.attach(channel)
    } finally {
      this.opening.delete(key)
    }
  }

  /**
   * Make sure `peer` can be asked by its id: a candidate from peer exchange
   * we are not connected to is dialled at the addresses it was given (once;
   * per swarm at most MAX_PEX_DIALS such dials at a time, MAX_PEX_CANDIDATES
   * at once and PEX_DIALS_PER_SECOND after that); false if that failed. Any
   * other peer is left to libp2p's dialler.
   */
  async reach (peer: PeerId, signal?: AbortSignal): Promise<boolean> {
    const key = peer.toString()
    const addrs = this.candidates.get(key)
    if (addrs == null) return true
    this.candidates.delete(key)
    if (this.c.network.isConnected(peer)) return true
    try {
      await this.dialSlot(signal)
    } catch {
      return false
    }
    try {
      // and no faster than the swarm's dial rate, whoever named the peers
      await this.dialBudget.take(1, anySignal(signal, this.closing.signal))
      await this.c.network.dial(peer, addrs, { signal })
      return true
    } catch (err: any) {
      this.c.log('%s: cannot reach %s, named by peer exchange: %s', this.root, key, err.message)
      return false
    } finally {
      this.dialing--
      this.dialQueue.shift()?.go()
    }
  }

  /** Resolves once fewer than MAX_PEX_DIALS candidate dials run (and counts this one); rejects if it waited too long in line. */
  private async dialSlot (signal?: AbortSignal): Promise<void> {
    while (this.dialing >= MAX_PEX_DIALS) {
      signal?.throwIfAborted()
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.dialQueue.indexOf(waiter)
          if (i >= 0) this.dialQueue.splice(i, 1)
          reject(signal?.reason)
        }
        const waiter = {
          go: (): void => {
            signal?.removeEventListener('abort', onAbort)
            resolve()
          },
          giveUp: (): void => {
            signal?.removeEventListener('abort', onAbort)
            reject(new Error('too many peers to dial'))
          }
        }
        this.dialQueue.push(waiter)
        // the line is as long as the candidates kept: the oldest waiter gives way
        if (this.dialQueue.length > MAX_PEX_CANDIDATES) this.dialQueue.shift()?.giveUp()
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    }
    this.dialing++
  }

  private allowance (key: string): Allowance {
    let allowance = this.allowances.get(key)
    if (allowance == null) {
      allowance = {
        bitfields: new TokenBucket(BITFIELDS_PER_SECOND, BITFIELDS_BURST),
        lists: new TokenBucket(1000 / PEX_INTERVAL, PEX_LISTS_BURST),
        records: new TokenBucket(PEX_RECORDS_PER_SECOND, PEX_RECORDS_BURST)
      }
    }
    this.allowances.delete(key)
    this.allowances.set(key, allowance)
    if (this.allowances.size > MAX_ALLOWANCES) this.allowances.delete(this.allowances.keys().next().value!)
    return allowance
  }

  /** Take part in a stream (opened by us or by the peer). */
  attach (channel: SwarmChannel): void {
    const key = channel.peer.toString()
    const existing = this.peers.get(key)
    if (this.closed) {
      void channel.close().catch(() => {})
      return
    }
    if (existing != null) {
      // both sides opened a stream at once: both keep the one opened by the
      // peer whose id sorts first
      const selfFirst = this.c.self.toString() < key
      const keepNew = channel.outbound === selfFirst && existing.channel.outbound !== selfFirst
      if (!keepNew) {
        void channel.close().catch(() => {})
        return
      }
      this.remove(existing)
      void existing.channel.close().catch(() => {})
    }
    const remote = new RemotePeer(channel)
    this.peers.set(key, remote)
    this.c.log('%s: joined by %s (%s)', this.root, key, channel.outbound ? 'we opened' : 'it opened')
    channel.listen({
      onMessage: msg => { this.onMessage(remote, msg) },
      // the peer closed its side: close ours too, or the stream lingers half-open
      onClose: () => { this.drop(remote) }
    })
    this.hello(remote).catch(err => { this.c.log('swarm hello to %s failed: %s', remote.key, err.message) })
    this.introduce(remote)
  }

  /** Leave the swarm: tell every peer and close the streams. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.closing.abort()
    clearTimeout(this.flushTimer)
    clearTimeout(this.introduceTimer)
    this.newcomers = []
    this.candidates.clear()
    for (const waiter of this.dialQueue.splice(0)) waiter.giveUp()
    for (const remote of this.peers.values()) {
      void remote.channel.send({ leaving: true }).catch(() => {}).finally(() => {
        void remote.channel.close().catch(() => {})
      })
    }
    this.peers.clear()
  }

  private stateMessage (): Partial<SwarmMessage> {
    if (this.complete) return { complete: true }
    if (this.bitfield != null) return { leafCount: this.bitfield.size, bitfield: this.bitfield.toBytes() as Uint8Array<ArrayBuffer> }
    return {}
  }

  /**
   * Our state goes out at once, before anything else on the stream (the
   * first message names the root); the peers we know follow once their
   * addresses are looked up.
   */
  private async hello (remote: RemotePeer): Promise<void> {
    // handled at once: a stream that closes while the addresses are looked up must not leave a rejection unheard
    const sent = remote.channel.send({ root: this.root.bytes as Uint8Array<ArrayBuffer>, ...this.stateMessage() }).then(() => true, err => {
      this.c.log('swarm hello to %s failed: %s', remote.key, err.message)
      return false
    })
    const peers = await this.records([...this.peers.values()].filter(p => p !== remote).slice(0, MAX_PEERS_PER_MESSAGE))
    if (!(await sent) || peers.length === 0) return
    await remote.channel.send({ peers }).catch(err => { this.c.log('peer list to %s failed: %s', remote.key, err.message) })
  }

  /**
   * Tell the others about a newcomer (peer exchange): newcomers are
   * introduced together, one list a PEX_INTERVAL (each peer takes no more
   * than that from one peer).
   */
  private introduce (newcomer: RemotePeer): void {
    if (this.newcomers.length >= MAX_PEERS_PER_MESSAGE) return
    this.newcomers.push(newcomer)
    this.introduceTimer ??= setTimeout(() => {
      this.introduceTimer = undefined
      void this.introduceNewcomers()
    }, PEX_INTERVAL)
  }

  private async introduceNewcomers (): Promise<void> {
    // those still here; a peer that hears of itself skips it
    const newcomers = this.newcomers.splice(0).filter(n => this.peers.get(n.key) === n)
    if (this.closed || newcomers.length === 0 || this.peers.size < 2) return
    const peers = await this.records(newcomers)
    if (peers.length === 0) return
    for (const other of this.peers.values()) {
      if (newcomers.length > 1 || other !== newcomers[0]) void other.channel.send({ peers }).catch(() => {})
    }
  }

  private async records (peers: RemotePeer[]): Promise<SwarmMessage['peers']> {
    const out: SwarmMessage['peers'] = []
    for (const p of peers) {
      try {
        const info = await this.c.peerStore.get(p.id)
        const addrs = info.addresses.slice(0, MAX_ADDRS_PER_PEER).map(a => a.multiaddr.bytes as Uint8Array<ArrayBuffer>)
        if (addrs.length > 0) out.push({ id: p.id.toMultihash().bytes as Uint8Array<ArrayBuffer>, addrs })
      } catch {
        // not in the peer store: nothing to share
      }
    }
    return out
  }

  private broadcast (msg: Partial<SwarmMessage>): void {
    for (const remote of this.peers.values()) {
      void remote.channel.send(msg).catch(() => {})
    }
  }

  private onMessage (remote: RemotePeer, msg: SwarmMessage): void {
    if (msg.leaving) {
      this.drop(remote)
      return
    }
    let stateChanged = !remote.heard
    remote.heard = true
    if (msg.complete && !remote.complete) {
      remote.complete = true
      stateChanged = true
    }
    if (msg.leafCount > 0) {
      const err = this.checkBitfield(remote, msg)
      if (err != null) {
        remote.channel.violated(err)
        return
      }
      remote.bitfield = new Bitfield(msg.leafCount, msg.bitfield)
      remote.haves = 0
      stateChanged = true
    }
    if (stateChanged) {
      this.c.log('%s: %s is %s', this.root, remote.key, remote.complete ? 'complete' : `holding ${remote.bitfield?.count ?? 0}/${remote.bitfield?.size ?? '?'}`)
      this.safeDispatchEvent('peer:state', { detail: remote })
    }
    if (msg.have.length > 0) {
      // each leaf is announced once, give or take one batch sent while a new peer's hello went out
      remote.haves += msg.have.length
      if (remote.haves > 2 * (remote.bitfield?.size ?? 0) + MAX_HAVES_PER_MESSAGE) {
        remote.channel.violated(new ProtocolViolationError(`${remote.haves} haves for ${remote.bitfield?.size ?? 0} leaves`, 'flood'))
        return
      }
      if (remote.bitfield != null) {
        const fresh = msg.have.filter(i => remote.bitfield!.set(i))
        if (fresh.length > 0) this.safeDispatchEvent('peer:have', { detail: { peer: remote, indices: fresh } })
      }
    }
    if (msg.peers.length > 0) {
      // an honest peer sends a list with its hello and at most one an interval after: more is a flood
      const { lists, records } = this.allowance(remote.key)
      if (!lists.tryTake(1)) {
        remote.channel.violated(new ProtocolViolationError('peer lists sent faster than allowed', 'flood'))
        return
      }
      // and of the records, so many a second are taken, the rest ignored
      for (const record of msg.peers) {
        if (!records.tryTake(1)) break
        this.candidate(record)
      }
    }
  }

  /** Why a peer's bitfield cannot be taken, checked before anything is allocated for it. */
  private checkBitfield (remote: RemotePeer, msg: SwarmMessage): ProtocolViolationError | undefined {
    if (msg.bitfield.byteLength !== Math.ceil(msg.leafCount / 8)) {
      return new ProtocolViolationError(`bitfield of ${msg.bitfield.byteLength} bytes for ${msg.leafCount} leaves`)
    }
    if (this.bitfield != null && msg.leafCount !== this.bitfield.size) {
      return new ProtocolViolationError(`bitfield of ${msg.leafCount} leaves for a root of ${this.bitfield.size}`)
    }
    if (!this.allowance(remote.key).bitfields.tryTake(1)) {
      return new ProtocolViolationError('bitfields sent faster than allowed', 'flood')
    }
    return undefined
  }

  /** A peer record from peer exchange: kept (bounded, in memory) to dial if a download asks, and announced. */
  private candidate (record: SwarmMessage['peers'][number]): void {
    let info: PeerInfo
    try {
      const id = peerIdFromMultihash(Digest.decode(record.id))
      info = { id, multiaddrs: record.addrs.map(a => multiaddr(a)) }
    } catch {
      return // a malformed record is ignored
    }
    const key = info.id.toString()
    if (info.id.equals(this.c.self) || this.peers.has(key) || this.opening.has(key) || this.candidates.has(key)) return
    // an address naming another peer is not this one's
    const addrs = info.multiaddrs.filter(a => a.getComponents().every(c => c.name !== 'p2p' || c.value === key))
    if (addrs.length === 0) return
    this.candidates.set(key, addrs)
    if (this.candidates.size > MAX_PEX_CANDIDATES) this.candidates.delete(this.candidates.keys().next().value!)
    this.safeDispatchEvent('discovered', { detail: { id: info.id, multiaddrs: addrs } })
  }

  /** Stop talking to a peer: forget it and close our side of its stream. */
  private drop (remote: RemotePeer): void {
    this.remove(remote)
    void remote.channel.close().catch(() => {})
  }

  private remove (remote: RemotePeer): void {
    if (this.peers.get(remote.key) !== remote) return
    this.peers.delete(remote.key)
    this.safeDispatchEvent('peer:gone', { detail: remote })
  }
}
