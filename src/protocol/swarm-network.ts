import { serviceCapabilities } from '@libp2p/interface'
import { ProtocolViolationError } from '../errors.js'
import { decodeCID } from '../content/dag.js'
import { frame } from './codec.js'
import { MAX_ADDRS_PER_PEER, MAX_HAVES_PER_MESSAGE, MAX_PEERS_PER_MESSAGE, MAX_SWARM_MESSAGE_SIZE, MAX_SWARM_STREAMS, STREAM_IDLE_TIMEOUT, STREAM_OPEN_TIMEOUT, SWARM_PROTOCOL } from './constants.js'
import { FramedStream } from './framed-stream.js'
import { ServedProtocol } from './served-protocol.js'
import { SwarmMessage } from './pb/swarm.js'
import { anySignal } from '../signals.js'
import type { ComponentLogger, Connection, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { CID } from 'multiformats/cid'

export interface SwarmNetworkComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

export type { SwarmMessage }

export function decodeSwarmMessage (buf: Uint8Array | import('uint8arraylist').Uint8ArrayList): SwarmMessage {
  try {
    return SwarmMessage.decode(buf, {
      limits: {
        have: MAX_HAVES_PER_MESSAGE,
        peers: MAX_PEERS_PER_MESSAGE,
        peers$: { addrs: MAX_ADDRS_PER_PEER }
      }
    })
  } catch (err: any) {
    throw new ProtocolViolationError(`malformed swarm message: ${err.message}`)
  }
}

export interface SwarmChannelEvents {
  onMessage(msg: SwarmMessage): void
  onClose(err?: Error): void
}

/** One stream of `/shoal/swarm/1.0.0` with one peer about one root. */
export class SwarmChannel {
  readonly peer: PeerId
  readonly root: CID
  /** We opened this stream. */
  readonly outbound: boolean
  private readonly framed: FramedStream<SwarmMessage>
  private events?: SwarmChannelEvents
  private readonly early: SwarmMessage[] = []
  private closed?: { err?: Error }
  private sentAny = false

  constructor (peer: PeerId, root: CID, framed: FramedStream<SwarmMessage>, outbound: boolean, first?: SwarmMessage) {
    this.peer = peer
    this.root = root
    this.outbound = outbound
    this.framed = framed
    if (first != null) this.early.push(first)
  }

  /** Start delivering messages (including any that arrived before this call). */
  listen (events: SwarmChannelEvents): void {
    this.events = events
    for (const msg of this.early.splice(0)) events.onMessage(msg)
    if (this.closed != null) events.onClose(this.closed.err)
  }

  /** Called by the network for each message and at the end. */
  deliver (msg: SwarmMessage): void {
    if (this.events != null) this.events.onMessage(msg)
    else this.early.push(msg)
  }

  ended (err?: Error): void {
    if (this.closed != null) return
    this.closed = { err }
    this.events?.onClose(err)
  }

  get isOpen (): boolean {
    return this.framed.isOpen
  }

  /** Queue a message (in order). The first one sent always names the root, as the protocol wants. */
  async send (msg: Partial<SwarmMessage>): Promise<void> {
    const first = !this.sentAny
    this.sentAny = true
    await this.framed.write(frame(SwarmMessage.encode({
      root: msg.root ?? (first ? this.root.bytes : new Uint8Array(0)),
      complete: msg.complete ?? false,
      leafCount: msg.leafCount ?? 0,
      bitfield: msg.bitfield ?? new Uint8Array(0),
      have: msg.have ?? [],
      peers: msg.peers ?? [],
      leaving: msg.leaving ?? false
    } as SwarmMessage)))
  }

  async close (): Promise<void> {
    await this.framed.close()
  }

  abort (err: Error): void {
    this.framed.abort(err)
  }

  /** The peer broke a rule of the swarm (a bitfield that does not fit the root, a flood): count it against the peer and abort. */
  violated (err: ProtocolViolationError): void {
    this.framed.violated(err)
  }
}

/**
 * The only module that touches `/shoal/swarm/1.0.0` streams: inbound streams
 * are handed to the swarm registry once their first message names a root;
 * outbound ones are opened for a peer and a root.
 */
export interface SwarmNetworkInit {
  /** Swarm streams one peer may open to us per connection. */
  maxInboundStreams?: number
  maxMessageSize?: number
  /** No message in or out for this long closes a swarm stream (ms). */
  idleTimeout?: number
  /** Told when a peer sends something that breaks the protocol. */
  onViolation?(peer: PeerId, err: Error): void
}

export class SwarmNetwork implements Startable {
  readonly [Symbol.toStringTag] = '@shoal/swarm'
  readonly [serviceCapabilities]: string[] = ['@shoal/swarm']
  private readonly components: SwarmNetworkComponents
  private readonly log: Logger
  private readonly maxInboundStreams: number
  private readonly maxMessageSize: number
  private readonly idleTimeout: number
  private readonly onViolation?: (peer: PeerId, err: Error) => void
  private inboundHandler?: (channel: SwarmChannel) => void
  private readonly served: ServedProtocol
  private started = false

  constructor (components: SwarmNetworkComponents, init: SwarmNetworkInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('shoal:swarm-network')
    this.maxInboundStreams = init.maxInboundStreams ?? MAX_SWARM_STREAMS
    this.maxMessageSize = init.maxMessageSize ?? MAX_SWARM_MESSAGE_SIZE
    this.idleTimeout = init.idleTimeout ?? STREAM_IDLE_TIMEOUT
    this.onViolation = init.onViolation
    this.served = new ServedProtocol(components.registrar, SWARM_PROTOCOL, (stream, connection) => { this.handleInbound(stream, connection) }, {
      maxInboundStreams: this.maxInboundStreams,
      maxOutboundStreams: MAX_SWARM_STREAMS
    })
  }

  /** Set who takes inbound swarm channels (the swarm registry), or nobody: the protocol is registered only while someone does. */
  async onInbound (handler: ((channel: SwarmChannel) => void) | undefined): Promise<void> {
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

  /** Whether we have a connection to `peer` now. */
  isConnected (peer: PeerId): boolean {
    return this.components.connectionManager.getConnections(peer).length > 0
  }

  /**
   * Connect to `peer` at `addrs` (addresses someone else gave us: the peer
   * store is neither read nor written for them). Resolves once connected.
   */
  async dial (peer: PeerId, addrs: Multiaddr[], options: { signal?: AbortSignal } = {}): Promise<void> {
    const signal = anySignal(AbortSignal.timeout(STREAM_OPEN_TIMEOUT), options.signal)
    const id = peer.toString()
    // each address names the peer, so the handshake proves it is the one dialled
    const targets = addrs.map(a => a.getComponents().some(c => c.name === 'p2p') ? a : a.encapsulate(`/p2p/${id}`))
    await this.components.connectionManager.openConnection(targets, { signal })
  }

  async open (peer: PeerId, root: CID, options: { signal?: AbortSignal } = {}): Promise<SwarmChannel> {
    const signal = anySignal(AbortSignal.timeout(STREAM_OPEN_TIMEOUT), options.signal)
    const stream = await this.components.connectionManager.openStream(peer, SWARM_PROTOCOL, { signal })
    const framed = this.framed(stream, peer)
    const channel = new SwarmChannel(peer, root, framed, true)
    framed.read(msg => { channel.deliver(msg) }, err => { channel.ended(err) })
    return channel
  }

  private framed (stream: Stream, peer: PeerId): FramedStream<SwarmMessage> {
    return new FramedStream({
      stream,
      decode: decodeSwarmMessage,
      maxMessageSize: this.maxMessageSize,
      idleTimeout: this.idleTimeout,
      log: this.log,
      onViolation: err => { this.onViolation?.(peer, err) }
    })
  }

  private handleInbound (stream: Stream, connection: Connection): void {
    const framed = this.framed(stream, connection.remotePeer)
    let channel: SwarmChannel | undefined
    framed.read(msg => {
      if (channel != null) {
        channel.deliver(msg)
        return
      }
      // the first message must name the root
      const root = decodeCID(msg.root)
      channel = new SwarmChannel(connection.remotePeer, root, framed, false, msg)
      if (this.inboundHandler == null) {
        framed.abort(new ProtocolViolationError('not taking part in swarms'))
        return
      }
      this.inboundHandler(channel)
    }, err => { channel?.ended(err) })
  }
}

/** The libp2p service factory: `services: { swarm: swarmNetwork({ … }) }`. */
export function swarmNetwork (init: SwarmNetworkInit = {}): (components: SwarmNetworkComponents) => SwarmNetwork {
  return components => new SwarmNetwork(components, init)
}
