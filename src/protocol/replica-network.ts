import { serviceCapabilities } from '@libp2p/interface'
import { ProtocolViolationError } from '../errors.js'
import { frame } from './codec.js'
import { MAX_HOLDERS_PER_ROOT, MAX_REPLICA_MESSAGE_SIZE, MAX_REPLICA_ROOTS, MAX_REPLICA_STREAMS, REPLICA_PROTOCOL, REPLICA_REQUEST_TIMEOUT } from './constants.js'
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
      limits: { roots: MAX_REPLICA_ROOTS, roots$: { holders: MAX_HOLDERS_PER_ROOT } }
    })
  } catch (err: any) {
    throw new ProtocolViolationError(`malformed replica message: ${err.message}`)
  }
}

function encodeReplicaMessage (msg: ReplicaMessage): Uint8ArrayList {
  return frame(ReplicaMessage.encode(msg))
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

  /** Send `request` to `peer` and wait for its answer (bounded by REPLICA_REQUEST_TIMEOUT). */
  async request (peer: PeerId, request: ReplicaMessage, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<ReplicaMessage> {
    const signal = anySignal(AbortSignal.timeout(options.timeout ?? REPLICA_REQUEST_TIMEOUT), options.signal)
    const stream = await this.components.connectionManager.openStream(peer, REPLICA_PROTOCOL, { signal })
    const framed = this.framed(stream, peer)
    const answer = Promise.withResolvers<ReplicaMessage>()
    // a failed write leaves the answer unawaited: its rejection must not go unhandled
    answer.promise.catch(() => {})
    const onAbort = (): void => { framed.abort(signal.reason); answer.reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      framed.read(msg => { answer.resolve(msg) }, err => {
        answer.reject(err ?? new ProtocolViolationError('replica stream closed without an answer'))
      })
      await framed.write(encodeReplicaMessage(request))
      const response = await answer.promise
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
    framed.read(async msg => {
      if (answered) throw new ProtocolViolationError('one request per replica stream')
      answered = true
      const handler = this.handler
      if (handler == null) throw new ProtocolViolationError('not keeping replicas')
      try {
        const response = await handler(peer, msg, signal)
        await framed.write(encodeReplicaMessage(response))
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
