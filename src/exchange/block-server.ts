import { DEFAULT_CHUNK_SIZE } from '../content/profile.js'
import { ProtocolViolationError } from '../errors.js'
import { AbortError } from '@libp2p/interface'
import { HAVE_LOOKUP_BATCH, HAVE_LOOKUP_BURST, HAVE_LOOKUP_RATE } from './constants.js'
import { TokenBucket } from './token-bucket.js'
import type { BanList } from './ban-list.js'
import type { Ledger } from './ledger.js'
import type { BlockServeChannel, InboundBlockChannels } from '../protocol/serve-channel.js'
import type { BlockStore } from '../store/block-store.js'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface BlockServerComponents {
  /** The block protocols peers ask us through (`/shoal/blocks`, Bitswap): all served alike. */
  networks: InboundBlockChannels[]
  blocks: BlockStore
  ledger: Ledger
  bans: BanList
  /** Shared upload limit (unlimited when its rate is 0). */
  uploadBucket: TokenBucket
  logger: ComponentLogger
}

export interface BlockServerInit {
  /** Requests one stream may have queued with us; more closes the stream. */
  maxRequestsPerPeer: number
  /** Blocks read and sent at once across all peers. */
  maxConcurrentUploads: number
}

/** One inbound stream's queue of wanted blocks. */
interface Stream {
  channel: BlockServeChannel
  peer: string
  queue: Map<string, CID>
  /** Want-haves (Bitswap) waiting to be looked up: they count with `queue` against the limit. */
  haves: Map<string, CID>
  /** A batch of want-haves is being looked up and answered (one at a time per stream). */
  lookingUp: boolean
  open: boolean
  /** The last block handed to the stream: the next waits for it (a peer gets its blocks one after another). */
  sending: Promise<void>
  /** Requests taken off the queue and not sent yet, and which of them were cancelled meanwhile. */
  answering: Set<string>
  cancelled: Set<string>
}

/**
 * Answers other peers' block requests from the local store, whatever part
 * of a DAG it holds (partial holders serve too). Each inbound stream has a
 * bounded queue; upload slots (`maxConcurrentUploads`) are given to peers in
 * turn, one block per turn, so a greedy peer cannot starve the others. With
 * an upload limit, a request leaves its queue only once the bucket lets its
 * bytes go, so a downloader's cancel (it got the block elsewhere) still
 * reaches it: a slow seeder sends nothing the swarm already spread.
 * A stream's blocks are sent one after another, each once the one before
 * it went out (read and verified ahead): a block still waiting for its turn
 * is not sent if the downloader cancels it, and the first of a downloader's
 * requests arrives first instead of all of them at the end together.
 * Blocks are verified as they are read: a block that fails is answered
 * "don't have". Banned peers are not served.
 */
export class BlockServer implements Startable {
  private readonly c: BlockServerComponents
  private readonly log: Logger
  private readonly maxRequestsPerPeer: number
  private readonly maxUploads: number
  private controller = new AbortController()
  /** Peers with queued requests, in turn order; each with its streams. */
  private readonly turns = new Map<string, Set<Stream>>()
  private readonly streams = new Set<Stream>()
  /** Each peer's want-have lookups (a token bucket), while it has streams with us. */
  private readonly lookups = new Map<string, { bucket: TokenBucket, streams: number }>()
  private active = 0
  /** A slot is waiting for the upload bucket. */
  private paying = false
  /** Size of the last block served: what a slot pays for before it knows the next one's (at first, a leaf of the default profile). */
  private lastBlockSize = DEFAULT_CHUNK_SIZE

  constructor (components: BlockServerComponents, init: BlockServerInit) {
    this.c = components
    this.log = components.logger.forComponent('shoal:block-server')
    this.maxRequestsPerPeer = init.maxRequestsPerPeer
    this.maxUploads = init.maxConcurrentUploads
  }

  /** Serve: the block protocol is registered from now on (and again after a stop). */
  async start (): Promise<void> {
    this.controller = new AbortController()
    for (const network of this.c.networks) await network.onInbound(channel => { this.serve(channel) })
  }

  async stop (): Promise<void> {
    for (const network of this.c.networks) await network.onInbound(undefined)
    this.controller.abort()
    for (const s of this.streams) {
      s.open = false
      s.channel.abort(new AbortError('daemon stopping'))
    }
    this.streams.clear()
    this.turns.clear()
    this.lookups.clear()
  }

  /** Blocks being uploaded right now. */
  get activeUploads (): number {
    return this.active
  }

  /** Peers' requests queued with us or being answered. */
  get requestsQueued (): number {
    let n = 0
    for (const s of this.streams) n += s.queue.size + s.answering.size
    return n
  }

  private serve (channel: BlockServeChannel): void {
    const peer = channel.peer.toString()
    if (this.c.bans.isBanned(peer)) {
      channel.abort(new ProtocolViolationError('banned'))
      return
    }
    const stream: Stream = { channel, peer, queue: new Map(), haves: new Map(), lookingUp: false, open: true, sending: Promise.resolve(), answering: new Set(), cancelled: new Set() }
    this.streams.add(stream)
    const lookups = this.lookups.get(peer) ?? { bucket: new TokenBucket(HAVE_LOOKUP_RATE, HAVE_LOOKUP_BURST), streams: 0 }
    lookups.streams++
    this.lookups.set(peer, lookups)
    channel.listen({
      onRequest: (want, cancel, have) => {
        if (!stream.open) return
        for (const cid of cancel) {
          const key = cid.toString()
          stream.queue.delete(key)
          stream.haves.delete(key)
          if (stream.answering.has(key)) stream.cancelled.add(key)
        }
        for (const cid of want) stream.queue.set(cid.toString(), cid)
        for (const cid of have) stream.haves.set(cid.toString(), cid)
        const queued = stream.queue.size + stream.haves.size
        const limit = Math.max(this.maxRequestsPerPeer, channel.maxQueued ?? 0)
        if (queued > limit) {
          // a peer that asks faster than it is answered: each time counts against it, and a few get it banned
          this.log('peer %s queued %d requests, more than %d; closing stream', peer, queued, limit)
          this.close(stream)
          channel.violated(new ProtocolViolationError(`${queued} requests queued, more than ${limit}`, 'flood'))
          return
        }
        if (stream.haves.size > 0) void this.answerHaves(stream, lookups.bucket)
        if (stream.queue.size > 0) this.enqueue(stream)
        this.pump()
      },
      onClose: (err) => {
        this.close(stream)
        if (err != null) this.log('stream from %s closed: %s', peer, err.message)
      }
    })
  }

  /**
   * Whether we hold blocks (want-haves): no upload slot, nothing read but
   * the index, but each lookup costs a file check and a datastore read, so
   * they are bounded as block requests are: queued with them under the
   * per-stream limit, looked up one batch at a time per stream, and paid
   * for from the peer's lookup bucket (HAVE_LOOKUP_RATE a second). A peer
   * asking faster than that fills its queue and breaks the limit.
   */
  private async answerHaves (stream: Stream, bucket: TokenBucket): Promise<void> {
    if (stream.lookingUp) return
    stream.lookingUp = true
    try {
      while (stream.open && stream.haves.size > 0) {
        const batch: CID[] = []
        for (const [key, cid] of stream.haves) {
          stream.haves.delete(key)
          batch.push(cid)
          if (batch.length >= HAVE_LOOKUP_BATCH) break
        }
        await bucket.take(batch.length, this.controller.signal)
        if (!stream.open) return
        const held: CID[] = []
        const missing: CID[] = []
        for (const cid of batch) {
          if (await this.c.blocks.has(cid).catch(() => false)) held.push(cid)
          else missing.push(cid)
        }
        if (!stream.open) return
        await stream.channel.sendPresence(held, missing)
      }
    } catch (err: any) {
      this.failed(stream, err)
    } finally {
      stream.lookingUp = false
    }
  }

  private close (stream: Stream): void {
    if (!this.streams.delete(stream)) return
    stream.open = false
    stream.queue.clear()
    stream.haves.clear()
    const lookups = this.lookups.get(stream.peer)
    if (lookups != null && --lookups.streams <= 0) this.lookups.delete(stream.peer)
    const set = this.turns.get(stream.peer)
    set?.delete(stream)
    if (set?.size === 0) this.turns.delete(stream.peer)
  }

  private enqueue (stream: Stream): void {
    let set = this.turns.get(stream.peer)
    if (set == null) {
      set = new Set()
      this.turns.set(stream.peer, set)
    }
    set.add(stream)
  }

  /** The next request, from the peer whose turn it is; that peer goes to the back. */
  private next (): { stream: Stream, cid: CID } | undefined {
    for (const [peer, set] of this.turns) {
      this.turns.delete(peer)
      for (const stream of set) {
        const first = stream.queue.entries().next()
        if (first.done === true) {
          set.delete(stream)
          continue
        }
        const [key, cid] = first.value
        stream.queue.delete(key)
        if (stream.queue.size === 0) set.delete(stream)
        if (set.size > 0) this.turns.set(peer, set)
        return { stream, cid }
      }
    }
    return undefined
  }

  private pump (): void {
    const bucket = this.c.uploadBucket
    while (this.active < this.maxUploads && this.turns.size > 0) {
      if (bucket.unlimited) {
        const job = this.next()
        if (job == null) return
        this.run(this.answer(job.stream, job.cid, 0), job.stream)
        continue
      }
      // with an upload limit a request leaves its queue only once its bytes
      // may go: until then a cancel still reaches it. One slot at a time
      // waits for the bucket (it serves in order).
      if (this.paying) return
      this.paying = true
      this.run(this.paidAnswer(), undefined)
    }
  }

  private run (work: Promise<void>, stream: Stream | undefined): void {
    this.active++
    void work.catch(err => {
      if (stream != null) this.failed(stream, err)
    }).finally(() => {
      this.active--
      this.pump()
    })
  }

  /** Pay for a block's worth of upload, then answer the request whose turn it is then. */
  private async paidAnswer (): Promise<void> {
    const paid = this.lastBlockSize
    try {
      await this.c.uploadBucket.take(paid, this.controller.signal)
    } finally {
      this.paying = false
    }
    const job = this.next()
    if (job == null) {
      this.c.uploadBucket.give(paid)
      return
    }
    // the next slot starts paying while this one reads and sends
    this.pump()
    await this.answer(job.stream, job.cid, paid).catch(err => { this.failed(job.stream, err) })
  }

  /** Sending to a stream failed: stop serving it. */
  private failed (stream: Stream, err: Error): void {
    if (!stream.open) return
    this.log('serving %s stopped: %s', stream.peer, err.message)
    this.close(stream)
    stream.channel.abort(err)
  }

  /** Read, verify and send one block; `paid` bytes of upload were taken for it already. */
  private async answer (stream: Stream, cid: CID, paid: number): Promise<void> {
    const key = cid.toString()
    stream.answering.add(key)
    try {
      await this.readAndSend(stream, cid, paid)
    } finally {
      stream.answering.delete(key)
      stream.cancelled.delete(key)
    }
  }

  private async readAndSend (stream: Stream, cid: CID, paid: number): Promise<void> {
    const signal = this.controller.signal
    let block
    try {
      block = await this.c.blocks.get(cid, { signal })
    } catch (err: any) {
      this.c.uploadBucket.give(paid)
      this.log.trace('no usable copy of %s for %s: %s', cid, stream.peer, err.message)
      if (stream.open) await stream.channel.sendDontHave([cid])
      return
    }
    const size = block.bytes.byteLength
    this.lastBlockSize = size
    if (size > paid) await this.c.uploadBucket.take(size - paid, signal)
    else this.c.uploadBucket.give(paid - size)
    // this stream's turn: after the block before it went out, unless it was cancelled meanwhile
    const turn = stream.sending.then(async () => {
      if (!stream.open || stream.cancelled.has(cid.toString())) {
        this.c.uploadBucket.give(size)
        return
      }
      await stream.channel.sendBlock(block)
      this.c.ledger.sent(stream.peer, size, stream.channel.protocol)
    })
    stream.sending = turn.catch(() => {})
    await turn
  }
}
