import { serviceCapabilities } from '@libp2p/interface'
import * as varint from 'uint8-varint'
import { MessageTooLargeError, ProtocolViolationError } from '../errors.js'
import { frame } from './codec.js'
import { MAX_HOLDERS_PER_ROOT, MAX_REACHABLE_PEERS, MAX_REPLICA_MESSAGE_SIZE, MAX_REPLICA_ROOTS, MAX_REPLICA_STREAMS, REPLICA_PROTOCOL, REPLICA_REQUEST_TIMEOUT } from './constants.js'
import { FramedStream } from './framed-stream.js'
import { ServedProtocol } from './served-protocol.js'
import { ReplicaMessage, ReplicaOp, ReplicaState } from './pb/replica.js'
import { anySignal } from '../signals.js'
import type { RootReplicas } from './pb/replica.js'
import type { ComponentLogger, Logger, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Uint8ArrayList } from 'uint8arraylist'

export { ReplicaOp, ReplicaState }
export type { ReplicaMessage, RootReplicas }

export interface ReplicaNetworkComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
  logger: ComponentLogger
}

/** Answers one request from `peer`; a thrown error closes the stream unanswered. */
export type ReplicaHandler = (peer: PeerId, request: ReplicaMessage, signal: AbortSignal) => Promise<ReplicaMessage>

export function decodeReplicaMessage (buf: Uint8Array | Uint8ArrayList): ReplicaMessage {
  try {
    return ReplicaMessage.decode(buf, {
      limits: {
        roots: MAX_REPLICA_ROOTS,
        roots$: { holders: MAX_HOLDERS_PER_ROOT, absent: MAX_HOLDERS_PER_ROOT, holderFragments: MAX_HOLDERS_PER_ROOT },
        sync: { dropped: MAX_REPLICA_ROOTS, reachable: MAX_REACHABLE_PEERS }
      }
    })
  } catch (err: any) {
    throw new ProtocolViolationError(`malformed replica message: ${err.message}`)
  }
}

/**
 * `msg` framed, if a peer would take it: never more than the limits every
 * receiver enforces (a peer that sends more commits a violation), else
 * MessageTooLargeError and nothing is sent.
 */
export function encodeReplicaMessage (msg: ReplicaMessage, maxMessageSize = MAX_REPLICA_MESSAGE_SIZE): Uint8ArrayList {
  const over = (what: string): never => { throw new MessageTooLargeError(`replica message not sent: ${what}`) }
  if (msg.roots.length > MAX_REPLICA_ROOTS) over(`${msg.roots.length} roots (at most ${MAX_REPLICA_ROOTS})`)
  for (const r of msg.roots) {
    if (r.holders.length > MAX_HOLDERS_PER_ROOT || r.absent.length > MAX_HOLDERS_PER_ROOT || r.holderFragments.length > MAX_HOLDERS_PER_ROOT) over(`a root with ${r.holders.length} holders and ${r.absent.length} absent (at most ${MAX_HOLDERS_PER_ROOT} each)`)
  }
  if ((msg.sync?.dropped.length ?? 0) > MAX_REPLICA_ROOTS) over(`${msg.sync!.dropped.length} dropped roots`)
  if ((msg.sync?.reachable.length ?? 0) > MAX_REACHABLE_PEERS) over(`${msg.sync!.reachable.length} reachable peers (at most ${MAX_REACHABLE_PEERS})`)
  const body = ReplicaMessage.encode(msg)
  if (body.byteLength > maxMessageSize) over(`${body.byteLength} bytes (at most ${maxMessageSize})`)
  return frame(body)
}

function framedSize (body: number): number {
  return varint.encodingLength(body) + body
}

/** What went over the replica protocol since the start. */
export interface ReplicaTraffic {
  /** Requests we sent, and answers we got to them. */
  requestsSent: number
  answersReceived: number
  /** Requests peers sent us, and answers we sent them. */
  requestsReceived: number
  answersSent: number
  /** Message bytes (framing included) each way. */
  bytesSent: number
  bytesReceived: number
}

/**
 * The only module that touches `/shoal/replica/1.0.0` streams: one request
 * and one response per stream, each bounded in size and time.
 */
export interface ReplicaNetworkInit {
  /** Replica streams one peer may have open with us per connection. */
  maxInboundStreams?: number
  maxMessageSize?: number
  /** No message in or out for this long closes a replica stream (ms; each request has its own, shorter, timeout too). */
  idleTimeout?: number
  /** Told when a peer sends something that breaks the protocol. */
  onViolation?(peer: PeerId, err: Error): void
}

export class ReplicaNetwork implements Startable {
  readonly [Symbol.toStringTag] = '@shoal/replica'
  readonly [serviceCapabilities]: string[] = ['@shoal/replica']
  private readonly components: ReplicaNetworkComponents
  private readonly log: Logger
  private readonly maxInboundStreams: number
  private readonly maxMessageSize: number
  private readonly idleTimeout?: number
  private readonly onViolation?: (peer: PeerId, err: Error) => void
  private handler?: ReplicaHandler
  private readonly served: ServedProtocol
  private started = false
  readonly traffic: ReplicaTraffic = { requestsSent: 0, answersReceived: 0, requestsReceived: 0, answersSent: 0, bytesSent: 0, bytesReceived: 0 }

  constructor (components: ReplicaNetworkComponents, init: ReplicaNetworkInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('shoal:replica-network')
    this.maxInboundStreams = init.maxInboundStreams ?? MAX_REPLICA_STREAMS
    this.maxMessageSize = init.maxMessageSize ?? MAX_REPLICA_MESSAGE_SIZE
    this.idleTimeout = init.idleTimeout
    this.onViolation = init.onViolation
    this.served = new ServedProtocol(components.registrar, REPLICA_PROTOCOL, (stream, connection) => { this.handleInbound(stream, connection.remotePeer) }, {
      maxInboundStreams: this.maxInboundStreams,
      maxOutboundStreams: MAX_REPLICA_STREAMS
    })
  }

  /** Set who answers requests (the replica manager), or nobody: the protocol is registered only while someone does. */
  async onRequest (handler: ReplicaHandler | undefined): Promise<void> {
    this.handler = handler
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

  /**
   * Send `request` to `peer` and wait for its answer (bounded by
   * REPLICA_REQUEST_TIMEOUT). A request past the protocol's limits is not
   * sent (MessageTooLargeError).
   */
  async request (peer: PeerId, request: ReplicaMessage, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<ReplicaMessage> {
    const framedRequest = encodeReplicaMessage(request, this.maxMessageSize)
    const signal = anySignal(AbortSignal.timeout(options.timeout ?? REPLICA_REQUEST_TIMEOUT), options.signal)
    const stream = await this.components.connectionManager.openStream(peer, REPLICA_PROTOCOL, { signal })
    const framed = this.framed(stream, peer)
    const answer = Promise.withResolvers<ReplicaMessage>()
    // a failed write leaves the answer unawaited: its rejection must not go unhandled
    answer.promise.catch(() => {})
    const onAbort = (): void => { framed.abort(signal.reason); answer.reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      framed.read((msg, size) => { this.traffic.bytesReceived += framedSize(size); answer.resolve(msg) }, err => {
        answer.reject(err ?? new ProtocolViolationError('replica stream closed without an answer'))
      })
      this.traffic.requestsSent++
      this.traffic.bytesSent += framedRequest.byteLength
      await framed.write(framedRequest)
      const response = await answer.promise
      this.traffic.answersReceived++
      await framed.close()
      return response
    } catch (err) {
      framed.abort(err as Error)
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  private framed (stream: Stream, peer: PeerId): FramedStream<ReplicaMessage> {
    return new FramedStream({
      stream,
      decode: decodeReplicaMessage,
      maxMessageSize: this.maxMessageSize,
      idleTimeout: this.idleTimeout,
      log: this.log,
      onViolation: err => { this.onViolation?.(peer, err) }
    })
  }

  private handleInbound (stream: Stream, peer: PeerId): void {
    const framed = this.framed(stream, peer)
    const signal = AbortSignal.timeout(REPLICA_REQUEST_TIMEOUT)
    const onAbort = (): void => { framed.abort(new ProtocolViolationError('replica request timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    let answered = false
    framed.read(async (msg, size) => {
      if (answered) throw new ProtocolViolationError('one request per replica stream')
      answered = true
      this.traffic.requestsReceived++
      this.traffic.bytesReceived += framedSize(size)
      const handler = this.handler
      if (handler == null) throw new ProtocolViolationError('not keeping replicas')
      try {
        const response = encodeReplicaMessage(await handler(peer, msg, signal), this.maxMessageSize)
        this.traffic.answersSent++
        this.traffic.bytesSent += response.byteLength
        await framed.write(response)
        await framed.close()
      } catch (err: any) {
        this.log('replica request from %p failed: %s', peer, err.message)
        framed.abort(err)
      } finally {
        signal.removeEventListener('abort', onAbort)
      }
    }, () => { signal.removeEventListener('abort', onAbort) })
  }
}

/** The libp2p service factory: `services: { replicas: replicaNetwork({ … }) }`. */
export function replicaNetwork (init: ReplicaNetworkInit = {}): (components: ReplicaNetworkComponents) => ReplicaNetwork {
  return components => new ReplicaNetwork(components, init)
}
