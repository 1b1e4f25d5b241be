import { serviceCapabilities } from '@libp2p/interface'
import { ProtocolViolationError } from '../errors.js'
import { decodeBitswap, encodeBitswapBlock, encodePresences, encodeWantlist } from './bitswap-codec.js'
import { BITSWAP_LEGACY, BITSWAP_MAX_ENTRIES, BITSWAP_MAX_INBOUND_STREAMS, BITSWAP_PROTOCOLS, CANCEL_GRACE, MAX_MESSAGE_SIZE, MAX_OUTBOUND_STREAMS, MAX_TRACKED_CANCELS, STREAM_OPEN_TIMEOUT } from './constants.js'
import { FramedStream } from './framed-stream.js'
import { connectionRtt } from './serve-channel.js'
import { anySignal } from '../signals.js'
import type { ReceivedBitswap } from './bitswap-codec.js'
import type { RequestChannelEvents } from './block-network.js'
import type { BlockServeChannel, InboundBlockChannels, ServeChannelEvents } from './serve-channel.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { ComponentLogger, Connection, Libp2pEvents, Logger, PeerId, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface BitswapNetworkComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface BitswapNetworkInit {
  /** Limits how fast block data is read from peers (the download rate limit). */
  downloadThrottle?(bytes: number): Promise<void> | undefined
  maxInboundStreams?: number
  maxMessageSize?: number
  idleTimeout?: number
  /** Told when a peer sends something that breaks the protocol. */
  onViolation?(peer: PeerId, err: Error): void
}

/** One remote peer as Bitswap sees it: the stream we write to it on, whoever asks it for blocks, whoever it asks. */
interface Remote {
  peer: PeerId
  out?: Promise<{ framed: FramedStream<unknown>, legacy: boolean }>
  serving?: BitswapServeChannel
  requests: Set<BitswapRequestChannel>
}

/**
 * Bitswap (`/ipfs/bitswap/1.2.0`, and 1.1.0 / 1.0.0 for older peers), the
 * block exchange of the IPFS world, as a second way to move Shoal's blocks.
 * Bitswap is one message stream per direction: a peer sends its want list on
 * a stream it opens, and we answer (blocks, "have", "don't have") on a
 * stream we open to it. This module keeps one outbound stream per peer
 * (opened again when the peer closes it), reads every inbound stream, and
 * turns what peers say into the two seams the exchange already has:
 * a `BlockServeChannel` per peer that asks us for blocks (the block server
 * answers it as it answers `/shoal/blocks`, under the same limits), and a
 * `BitswapRequestChannel` per download that asks a peer for blocks (a block
 * source for the peer pool). Every block is hashed as it is decoded and
 * named by its digest: a block nobody asked for is dropped.
 */
export class BitswapNetwork implements Startable, InboundBlockChannels {
  readonly [Symbol.toStringTag] = '@shoal/bitswap'
  readonly [serviceCapabilities]: string[] = ['@shoal/bitswap']
  /** A download's block source name (see the exchange's `BlockSource`). */
  readonly name = BITSWAP_PROTOCOLS[0]
  private readonly c: BitswapNetworkComponents
  private readonly init: BitswapNetworkInit
  private readonly log: Logger
  private readonly remotes = new Map<string, Remote>()
  /** When we last cancelled wants with each peer: a block it had already sent is no offence for a while. */
  private readonly lastCancel = new Map<string, number>()
  private inboundHandler?: (channel: BlockServeChannel) => void
  private started = false
  private readonly onDisconnect = (e: CustomEvent<PeerId>): void => { this.forget(e.detail.toString(), new ProtocolViolationError('peer disconnected')) }

  constructor (components: BitswapNetworkComponents, init: BitswapNetworkInit = {}) {
    this.c = components
    this.init = init
    this.log = components.logger.forComponent('shoal:bitswap')
  }

  async start (): Promise<void> {
    // registered whether or not we serve: answers to our own want lists arrive on streams the peer opens
    for (const protocol of BITSWAP_PROTOCOLS) {
      await this.c.registrar.handle(protocol, (stream, connection) => { this.handleInbound(stream, connection) }, {
        maxInboundStreams: this.init.maxInboundStreams ?? BITSWAP_MAX_INBOUND_STREAMS,
        maxOutboundStreams: MAX_OUTBOUND_STREAMS
      })
    }
    this.c.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.started = true
  }

  async stop (): Promise<void> {
    this.started = false
    this.c.events.removeEventListener('peer:disconnect', this.onDisconnect)
    for (const protocol of BITSWAP_PROTOCOLS) await this.c.registrar.unhandle(protocol)
    for (const key of [...this.remotes.keys()]) this.forget(key, new ProtocolViolationError('daemon stopping'))
  }

  isStarted (): boolean {
    return this.started
  }

  /** Who serves peers' want lists (the block server); with nobody, want lists are ignored. */
  async onInbound (handler: ((channel: BlockServeChannel) => void) | undefined): Promise<void> {
    this.inboundHandler = handler
  }

  /** A channel for asking `peer` for blocks over Bitswap; fails if the peer does not speak it. */
  async openChannel (peer: PeerId, events: RequestChannelEvents, options: { signal?: AbortSignal } = {}): Promise<BitswapRequestChannel> {
    const remote = this.remote(peer)
    await this.outbound(remote, options.signal)
    const channel = new BitswapRequestChannel(remote, this, events)
    remote.requests.add(channel)
    return channel
  }

  rttOf (peer: PeerId): number | undefined {
    return connectionRtt(this.c.connectionManager, peer)
  }

  /** @internal Write one message to `remote`, on its outbound stream (opened again once if the peer closed it). */
  async send (remote: Remote, encode: (legacy: boolean) => Uint8ArrayList): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const out = await this.outbound(remote)
      try {
        await out.framed.write(encode(out.legacy))
        return
      } catch (err) {
        if (remote.out != null && (await remote.out.catch(() => undefined)) === out) remote.out = undefined
        if (attempt > 0 || !this.started) throw err
      }
    }
  }

  /** @internal A request channel is closed. */
  release (remote: Remote, channel: BitswapRequestChannel): void {
    remote.requests.delete(channel)
    this.forgetIfIdle(remote)
  }

  /** @internal We cancelled wants with `remote` (or closed a channel that had some). */
  cancelled (remote: Remote): void {
    const key = remote.peer.toString()
    const now = Date.now()
    this.lastCancel.delete(key)
    this.lastCancel.set(key, now)
    // oldest first: drop those past their grace, and the oldest past the bound
    for (const [peer, at] of this.lastCancel) {
      if (now - at < CANCEL_GRACE && this.lastCancel.size <= MAX_TRACKED_CANCELS) break
      this.lastCancel.delete(peer)
    }
  }

  /** @internal `peer` broke a limit (the block server's). */
  violation (peer: PeerId, err: ProtocolViolationError): void {
    this.init.onViolation?.(peer, err)
  }

  /** Whether blocks from `key` may be for us: we ask it for some, or cancelled some lately. */
  private asking (key: string): boolean {
    return (this.remotes.get(key)?.requests.size ?? 0) > 0 || this.cancelledLately(key)
  }

  private cancelledLately (key: string): boolean {
    return Date.now() - (this.lastCancel.get(key) ?? -Infinity) < CANCEL_GRACE
  }

  /** @internal The serve channel of `remote` is closed. */
  unserve (remote: Remote, channel: BitswapServeChannel): void {
    if (remote.serving === channel) remote.serving = undefined
    this.forgetIfIdle(remote)
  }

  private remote (peer: PeerId): Remote {
    const key = peer.toString()
    let remote = this.remotes.get(key)
    if (remote == null) {
      remote = { peer, requests: new Set() }
      this.remotes.set(key, remote)
    }
    return remote
  }

  private forgetIfIdle (remote: Remote): void {
    if (remote.serving != null || remote.requests.size > 0) return
    this.remotes.delete(remote.peer.toString())
    void remote.out?.then(out => out.framed.close(), () => {})
  }

  private forget (key: string, err: Error): void {
    const remote = this.remotes.get(key)
    if (remote == null) return
    this.remotes.delete(key)
    remote.serving?.closed(err)
    for (const channel of [...remote.requests]) channel.closed(err)
    void remote.out?.then(out => { out.framed.abort(err) }, () => {})
  }

  private async outbound (remote: Remote, signal?: AbortSignal): Promise<{ framed: FramedStream<unknown>, legacy: boolean }> {
    const current = remote.out
    if (current != null) {
      const out = await current.catch(() => undefined)
      if (out?.framed.isOpen === true) return out
      if (remote.out === current) remote.out = undefined
    }
    remote.out ??= (async () => {
      const stream = await this.c.connectionManager.openStream(remote.peer, BITSWAP_PROTOCOLS, {
        signal: anySignal(AbortSignal.timeout(STREAM_OPEN_TIMEOUT), signal)
      })
      // we only write on it: whatever the peer sends back comes on streams it opens
      const framed = new FramedStream<unknown>({ stream, decode: () => undefined, maxMessageSize: 0, idleTimeout: this.init.idleTimeout, log: this.log.newScope('out') })
      return { framed, legacy: stream.protocol === BITSWAP_LEGACY }
    })()
    const opening = remote.out
    try {
      return await opening
    } catch (err) {
      if (remote.out === opening) remote.out = undefined
      throw err
    }
  }

  private handleInbound (stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer
    const key = peer.toString()
    const framed: FramedStream<ReceivedBitswap> = new FramedStream({
      stream,
      // blocks from a peer we ask nothing of are not even hashed
      decode: buf => decodeBitswap(buf, this.asking(key)),
      maxMessageSize: this.init.maxMessageSize ?? MAX_MESSAGE_SIZE,
      idleTimeout: this.init.idleTimeout,
      log: this.log.newScope('in'),
      onViolation: err => { this.init.onViolation?.(peer, err) }
    })
    framed.read((msg, size) => this.receive(peer, msg, size, framed), err => {
      if (err != null) this.log('stream from %p ended: %s', peer, err.message)
    })
  }

  private receive (peer: PeerId, msg: ReceivedBitswap, size: number, framed: FramedStream<ReceivedBitswap>): Promise<void> | undefined {
    const key = peer.toString()
    if (msg.want.length > 0 || msg.have.length > 0 || msg.cancel.length > 0 || msg.full) {
      let remote = this.remotes.get(key)
      let serving = remote?.serving
      if (serving == null && this.inboundHandler != null && (msg.want.length > 0 || msg.have.length > 0)) {
        remote = this.remote(peer)
        serving = new BitswapServeChannel(remote, this)
        remote.serving = serving
        this.inboundHandler(serving)
      }
      serving?.heard(msg)
    }
    if (msg.unread > 0) {
      framed.violated(new ProtocolViolationError(`sent ${msg.unread} block(s) though asked for none`, 'unsolicited'))
      return undefined
    }
    const remote = this.remotes.get(key)
    if (msg.blocks.length === 0 && msg.dontHave.length === 0) return undefined
    if (msg.unverifiable > 0) this.log('%p sent %d block(s) under a hash we cannot check; ignored', peer, msg.unverifiable)
    const taken = new Set<string>()
    for (const channel of remote?.requests ?? []) channel.heard(msg, taken)
    if (taken.size < msg.blocks.length && !this.cancelledLately(key)) {
      framed.violated(new ProtocolViolationError(`sent ${msg.blocks.length - taken.size} block(s) nobody asked it for`, 'unsolicited'))
      return undefined
    }
    // only what was asked for is paid for under the download limit (and pauses reading)
    return taken.size > 0 ? this.init.downloadThrottle?.(size) : undefined
  }
}

/** A download asking one peer for blocks over Bitswap (want-block, "don't have" asked for). */
export class BitswapRequestChannel {
  readonly protocol = BITSWAP_PROTOCOLS[0]
  private readonly remote: Remote
  private readonly network: BitswapNetwork
  private readonly events: RequestChannelEvents
  private readonly wanted = new Map<string, CID>()
  private open = true

  constructor (remote: Remote, network: BitswapNetwork, events: RequestChannelEvents) {
    this.remote = remote
    this.network = network
    this.events = events
  }

  get isOpen (): boolean {
    return this.open
  }

  async want (cids: CID[]): Promise<void> {
    for (const cid of cids) this.wanted.set(cid.toString(), cid)
    for (let i = 0; i < cids.length; i += BITSWAP_MAX_ENTRIES) {
      const part = cids.slice(i, i + BITSWAP_MAX_ENTRIES)
      await this.network.send(this.remote, () => encodeWantlist(part, []))
    }
  }

  async cancel (cids: CID[]): Promise<void> {
    const sent = cids.filter(cid => this.wanted.delete(cid.toString()))
    if (sent.length > 0) this.network.cancelled(this.remote)
    for (let i = 0; i < sent.length; i += BITSWAP_MAX_ENTRIES) {
      const part = sent.slice(i, i + BITSWAP_MAX_ENTRIES)
      await this.network.send(this.remote, () => encodeWantlist([], part))
    }
  }

  /** Cancel what is still wanted (another download may want it of this peer still: the node's want list decides) and stop hearing. */
  async close (): Promise<void> {
    if (!this.open) return
    const left = [...this.wanted.values()].slice(0, BITSWAP_MAX_ENTRIES)
    this.wanted.clear()
    this.open = false
    if (left.length > 0) this.network.cancelled(this.remote)
    if (left.length > 0) await this.network.send(this.remote, () => encodeWantlist([], left)).catch(() => {})
    this.network.release(this.remote, this)
  }

  /** @internal Blocks it wanted are handed on (and their keys added to `taken`). */
  heard (msg: ReceivedBitswap, taken: Set<string>): void {
    if (!this.open) return
    const got: CID[] = []
    for (const block of msg.blocks) {
      const key = block.cid.toString()
      if (!this.wanted.delete(key)) continue
      taken.add(key)
      got.push(block.cid)
      this.events.onBlock(block)
    }
    for (const cid of msg.dontHave) {
      if (this.wanted.delete(cid.toString())) this.events.onDontHave(cid)
    }
    // what arrived is cancelled with its sender, as Helia's and Kubo's clients do: a server that
    // remembers blocks it sent (Helia keeps them, for a few seconds, as not to be sent again)
    // then sends a block asked for again later, by another download of ours
    if (got.length > 0) void this.network.send(this.remote, () => encodeWantlist([], got)).catch(() => {})
  }

  /** @internal The peer went away. */
  closed (err: Error): void {
    if (!this.open) return
    this.open = false
    this.events.onClose(err)
  }
}

/** A peer asking us for blocks over Bitswap: one per peer, whatever streams its want lists come on. */
class BitswapServeChannel implements BlockServeChannel {
  readonly peer: PeerId
  readonly protocol = BITSWAP_PROTOCOLS[0]
  /** A want list as Helia and Kubo keep one for a peer (at most 1 024 entries); one channel per peer, not per stream. */
  readonly maxQueued = BITSWAP_MAX_ENTRIES
  private readonly remote: Remote
  private readonly network: BitswapNetwork
  private events?: ServeChannelEvents
  /** What the peer wants of us now, and of those, where it asked to hear "don't have". */
  private readonly wanted = new Map<string, CID>()
  private readonly dontHaveAsked = new Set<string>()
  private open = true

  constructor (remote: Remote, network: BitswapNetwork) {
    this.remote = remote
    this.peer = remote.peer
    this.network = network
  }

  get isOpen (): boolean {
    return this.open
  }

  listen (events: ServeChannelEvents): void {
    this.events = events
  }

  /** A want list arrived. */
  heard (msg: ReceivedBitswap): void {
    if (!this.open || this.events == null) return
    const cancel = [...msg.cancel]
    if (msg.full) {
      // a whole want list: what it wanted before and leaves out now is cancelled
      const kept = new Set([...msg.want, ...msg.have].map(c => c.toString()))
      for (const [key, cid] of this.wanted) if (!kept.has(key)) cancel.push(cid)
    }
    for (const cid of cancel) {
      this.wanted.delete(cid.toString())
      this.dontHaveAsked.delete(cid.toString())
    }
    for (const cid of msg.want) {
      const key = cid.toString()
      this.wanted.set(key, cid)
      if (msg.wantDontHave.has(key)) this.dontHaveAsked.add(key)
    }
    for (const key of msg.haveDontHave) this.dontHaveAsked.add(key)
    this.events.onRequest(msg.want, cancel, msg.have)
  }

  async sendBlock (block: VerifiedBlock): Promise<void> {
    const key = block.cid.toString()
    this.wanted.delete(key)
    this.dontHaveAsked.delete(key)
    await this.network.send(this.remote, legacy => encodeBitswapBlock(block, legacy))
  }

  async sendDontHave (cids: CID[]): Promise<void> {
    await this.sendPresence([], cids)
  }

  async sendPresence (have: CID[], dontHave: CID[]): Promise<void> {
    // "don't have" only to those who asked for it (Bitswap 1.2); 1.0/1.1 peers never do
    const told = dontHave.filter(cid => this.dontHaveAsked.delete(cid.toString()))
    for (const cid of dontHave) this.wanted.delete(cid.toString())
    for (const cid of have) this.dontHaveAsked.delete(cid.toString())
    if (have.length === 0 && told.length === 0) return
    await this.network.send(this.remote, () => encodePresences(have, told))
  }

  abort (err: Error): void {
    this.closed(err, false)
  }

  violated (err: ProtocolViolationError): void {
    if (!this.open) return
    this.network.violation(this.peer, err)
    this.closed(err, false)
  }

  /** @internal The peer went away, or we stop serving it. */
  closed (err: Error, tell = true): void {
    if (!this.open) return
    this.open = false
    this.wanted.clear()
    this.network.unserve(this.remote, this)
    if (tell) this.events?.onClose(err)
  }
}

/** The libp2p service factory: `services: { bitswap: bitswapNetwork({ … }) }`. */
export function bitswapNetwork (init: BitswapNetworkInit = {}): (components: BitswapNetworkComponents) => BitswapNetwork {
  return components => new BitswapNetwork(components, init)
}
