import { serviceCapabilities } from '@libp2p/interface'
import { decodeCID } from '../content/dag.js'
import { verifyBlock } from '../content/verify.js'
import { ProtocolViolationError } from '../errors.js'
import { decodeRequest, decodeResponse, encodeBlockResponse, encodeRequest, encodeResponse } from './codec.js'
import { BLOCK_PROTOCOL, MAX_CIDS_PER_REQUEST, MAX_RECENT_CANCELS, MAX_INBOUND_STREAMS, MAX_MESSAGE_SIZE, MAX_OUTBOUND_STREAMS, STREAM_IDLE_TIMEOUT, STREAM_OPEN_TIMEOUT } from './constants.js'
import { FramedStream } from './framed-stream.js'
import { ServedProtocol } from './served-protocol.js'
import { connectionRtt } from './serve-channel.js'
import { anySignal } from '../signals.js'
import type { BlockServeChannel, InboundBlockChannels, ServeChannelEvents } from './serve-channel.js'
import type { VerifiedBlock } from '../content/verify.js'
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { CID } from 'multiformats/cid'

export interface BlockNetworkComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

export interface BlockNetworkInit {
  /** Limits how fast block data is read from peers (the download rate limit). */
  downloadThrottle?(bytes: number): Promise<void> | undefined
  maxInboundStreams?: number
  maxOutboundStreams?: number
  maxMessageSize?: number
  idleTimeout?: number
  /** Told when a peer sends something that breaks the protocol. */
  onViolation?(peer: PeerId, err: Error): void
}

/** What a requester hears back on its channel. */
export interface RequestChannelEvents {
  /** A block that hashed to the CID it was sent as. */
  onBlock(block: VerifiedBlock): void
  /** A block whose bytes did not match its CID: the peer lied or is broken. */
  onInvalidBlock(cid: CID | undefined, err: Error): void
  onDontHave(cid: CID): void
  /** The stream ended or failed; no more events follow. */
  onClose(err?: Error): void
}

/** Our side of a stream we opened to ask a peer for blocks. */
export class RequestChannel {
  readonly protocol = BLOCK_PROTOCOL
  readonly peer: PeerId
  private readonly framed: FramedStream<ReturnType<typeof decodeResponse>>
  /** Blocks asked for and not answered yet: only these are hashed, handed on and paid for under the download limit. */
  private readonly asked = new Set<string>()
  /** Blocks cancelled lately: one may still be on its way (a race, not a lie). */
  private readonly cancelled = new Set<string>()

  constructor (peer: PeerId, framed: FramedStream<ReturnType<typeof decodeResponse>>, events: RequestChannelEvents, throttle?: (bytes: number) => Promise<void> | undefined) {
    this.peer = peer
    this.framed = framed
    let closed = false
    framed.read((res, size) => {
      let wanted = 0
      for (const entry of res.blocks) {
        let cid: CID | undefined
        try {
          cid = decodeCID(entry.cid)
        } catch (err: any) {
          events.onInvalidBlock(undefined, err)
          continue
        }
        const key = cid.toString()
        if (!this.asked.delete(key)) {
          if (this.cancelled.delete(key)) continue
          // dropped unread: neither hashed nor counted against the download limit
          framed.violated(new ProtocolViolationError(`sent ${key}, which was not asked of it`, 'unsolicited'))
          return
        }
        wanted++
        try {
          events.onBlock(verifyBlock(cid, entry.data))
        } catch (err: any) {
          events.onInvalidBlock(cid, err)
        }
      }
      for (const bytes of res.dontHave) {
        const cid = decodeCID(bytes)
        this.asked.delete(cid.toString())
        events.onDontHave(cid)
      }
      return wanted > 0 ? throttle?.(size) : undefined
    }, err => {
      if (closed) return
      closed = true
      events.onClose(err)
    })
  }

  get isOpen (): boolean {
    return this.framed.isOpen
  }

  async want (cids: CID[]): Promise<void> {
    for (const cid of cids) {
      const key = cid.toString()
      this.asked.add(key)
      this.cancelled.delete(key)
    }
    for (let i = 0; i < cids.length; i += MAX_CIDS_PER_REQUEST) {
      await this.framed.write(encodeRequest({ want: cids.slice(i, i + MAX_CIDS_PER_REQUEST).map(c => c.bytes) }))
    }
  }

  async cancel (cids: CID[]): Promise<void> {
    for (const cid of cids) {
      const key = cid.toString()
      if (!this.asked.delete(key)) continue
      this.cancelled.add(key)
      // the oldest cancel is long answered or never will be
      if (this.cancelled.size > MAX_RECENT_CANCELS) this.cancelled.delete(this.cancelled.values().next().value!)
    }
    for (let i = 0; i < cids.length; i += MAX_CIDS_PER_REQUEST) {
      await this.framed.write(encodeRequest({ cancel: cids.slice(i, i + MAX_CIDS_PER_REQUEST).map(c => c.bytes) }))
    }
  }

  async close (): Promise<void> {
    await this.framed.close()
  }

  abort (err: Error): void {
    this.framed.abort(err)
  }
}

/** Our side of a stream a peer opened to ask us for blocks. */
class ServeChannel implements BlockServeChannel {
  readonly peer: PeerId
  readonly protocol = BLOCK_PROTOCOL
  private readonly framed: FramedStream<ReturnType<typeof decodeRequest>>

  constructor (peer: PeerId, framed: FramedStream<ReturnType<typeof decodeRequest>>) {
    this.peer = peer
    this.framed = framed
  }

  /** Start reading requests; call once, after wiring up the handlers. */
  listen (events: ServeChannelEvents): void {
    this.framed.read(req => {
      events.onRequest(req.want.map(decodeCID), req.cancel.map(decodeCID), [])
    }, err => { events.onClose(err) })
  }

  get isOpen (): boolean {
    return this.framed.isOpen
  }

  async sendBlock (block: VerifiedBlock): Promise<void> {
    await this.framed.write(encodeBlockResponse(block.cid.bytes, block.bytes))
  }

  async sendDontHave (cids: CID[]): Promise<void> {
    await this.framed.write(encodeResponse({ dontHave: cids.map(c => c.bytes) }))
  }

  /** `/shoal/blocks` has no want-have: nothing to answer. */
  async sendPresence (): Promise<void> {}

  abort (err: Error): void {
    this.framed.abort(err)
  }

  violated (err: ProtocolViolationError): void {
    this.framed.violated(err)
  }
}

/**
 * The only module that touches `/shoal/blocks/1.0.0` streams. It registers
 * the protocol, turns inbound streams into `ServeChannel`s for the block
 * server, and opens `RequestChannel`s for download sessions.
 */
export class BlockNetwork implements Startable, InboundBlockChannels {
  readonly [Symbol.toStringTag] = '@shoal/blocks'
  readonly [serviceCapabilities]: string[] = ['@shoal/blocks']
  /** A download's block source name (see the exchange's `BlockSource`). */
  readonly name = BLOCK_PROTOCOL
  private readonly components: BlockNetworkComponents
  private readonly log: Logger
  private readonly maxInboundStreams: number
  private readonly maxOutboundStreams: number
  private readonly maxMessageSize: number
  private readonly idleTimeout: number
  private readonly downloadThrottle?: (bytes: number) => Promise<void> | undefined
  private readonly onViolation?: (peer: PeerId, err: Error) => void
  private inboundHandler?: (channel: BlockServeChannel) => void
  private readonly served: ServedProtocol
  private started = false

  constructor (components: BlockNetworkComponents, init: BlockNetworkInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('shoal:network')
    this.maxInboundStreams = init.maxInboundStreams ?? MAX_INBOUND_STREAMS
    this.maxOutboundStreams = init.maxOutboundStreams ?? MAX_OUTBOUND_STREAMS
    this.maxMessageSize = init.maxMessageSize ?? MAX_MESSAGE_SIZE
    this.idleTimeout = init.idleTimeout ?? STREAM_IDLE_TIMEOUT
    this.downloadThrottle = init.downloadThrottle
    this.onViolation = init.onViolation
    this.served = new ServedProtocol(components.registrar, BLOCK_PROTOCOL, (stream, connection) => { this.handleInbound(stream, connection) }, {
      maxInboundStreams: this.maxInboundStreams,
      maxOutboundStreams: this.maxOutboundStreams
    })
  }

  /**
   * Set who serves inbound channels (the block server), or nobody: the
   * protocol is registered only while someone does.
   */
  async onInbound (handler: ((channel: BlockServeChannel) => void) | undefined): Promise<void> {
    this.inboundHandler = handler
    await this.served.serve(handler != null)
  }

  async start (): Promise<void> {
    await this.served.start()
    this.started = true
  }

  async stop (): Promise<void> {
    await this.served.stop()
    this.started = false
  }

  isStarted (): boolean {
    return this.started
  }

  /** Open a stream to `peer` (dialling it if needed) for requesting blocks. */
  async openChannel (peer: PeerId, events: RequestChannelEvents, options: { signal?: AbortSignal } = {}): Promise<RequestChannel> {
    const signal = anySignal(AbortSignal.timeout(STREAM_OPEN_TIMEOUT), options.signal)
    const stream = await this.components.connectionManager.openStream(peer, BLOCK_PROTOCOL, { signal })
    const framed = new FramedStream({
      stream,
      decode: decodeResponse,
      maxMessageSize: this.maxMessageSize,
      idleTimeout: this.idleTimeout,
      log: this.log.newScope('request'),
      onViolation: err => { this.onViolation?.(peer, err) }
    })
    return new RequestChannel(peer, framed, events, this.downloadThrottle)
  }

  /** The round trip to `peer` in ms as measured on its connection, if known. */
  rttOf (peer: PeerId): number | undefined {
    return connectionRtt(this.components.connectionManager, peer)
  }

  private handleInbound (stream: Stream, connection: Connection): void {
    const framed = new FramedStream({
      stream,
      decode: decodeRequest,
      maxMessageSize: this.maxMessageSize,
      idleTimeout: this.idleTimeout,
      log: this.log.newScope('serve'),
      onViolation: err => { this.onViolation?.(connection.remotePeer, err) }
    })
    if (this.inboundHandler == null) {
      framed.abort(new ProtocolViolationError('not serving blocks'))
      return
    }
    this.inboundHandler(new ServeChannel(connection.remotePeer, framed))
  }
}

/** The libp2p service factory, as js-libp2p's own services: `services: { blocks: blockNetwork({ … }) }`. */
export function blockNetwork (init: BlockNetworkInit = {}): (components: BlockNetworkComponents) => BlockNetwork {
  return components => new BlockNetwork(components, init)
}
