import { ProtocolViolationError } from '../errors.js'
import { WRITE_TIMEOUT } from './constants.js'
import { FrameDecoder } from './frame-decoder.js'
import { readStream } from './stream-reader.js'
import type { Logger, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface FramedStreamInit<T> {
  stream: Stream
  decode(buf: Uint8ArrayList): T
  maxMessageSize: number
  log: Logger
  /** Called when the remote breaks the framing or sends a message that does not decode. */
  onViolation?(err: ProtocolViolationError): void
}

/**
 * Length-prefixed protobuf messages over one libp2p stream: a read loop that
 * hands each decoded message to a callback, and writes that are serialised
 * and wait for the stream to drain (so memory stays bounded). A malformed or
 * oversized message aborts the stream.
 */
export class FramedStream<T> {
  readonly stream: Stream
  private readonly decode: (buf: Uint8ArrayList) => T
  private readonly maxMessageSize: number
  private readonly log: Logger
  private readonly onViolation?: (err: ProtocolViolationError) => void
  private writing: Promise<void> = Promise.resolve()
  private closed = false

  constructor (init: FramedStreamInit<T>) {
    this.stream = init.stream
    this.decode = init.decode
    this.maxMessageSize = init.maxMessageSize
    this.log = init.log
    this.onViolation = init.onViolation
  }

  get isOpen (): boolean {
    return !this.closed && this.stream.status === 'open'
  }

  /**
   * Read messages until the remote closes its side or the stream fails.
   * `onClose` is called exactly once, with the error if there was one.
   */
  read (onMessage: (msg: T, size: number) => void | Promise<void>, onClose: (err?: Error) => void): void {
    const decoder = new FrameDecoder(this.maxMessageSize)
    void (async () => {
      try {
        for await (const chunk of readStream(this.stream)) {
          for (const [msg, size] of this.messagesIn(decoder, chunk)) {
            // a returned promise (a rate limit) pauses reading until it settles
            const wait = onMessage(msg, size)
            if (wait != null) await wait
          }
        }
        if (decoder.midFrame) throw this.violation(new ProtocolViolationError('stream ended inside a message', 'truncated'))
        this.closed = true
        onClose()
      } catch (err: any) {
        const error = err instanceof ProtocolViolationError ? err : new ProtocolViolationError(err.message ?? String(err))
        this.abort(error)
        onClose(error)
      }
    })()
  }

  /** Every whole message in `chunk`; a framing or decoding error is the remote's violation. */
  private messagesIn (decoder: FrameDecoder, chunk: Uint8Array | Uint8ArrayList): Array<[T, number]> {
    const messages: Array<[T, number]> = []
    try {
      for (const buf of decoder.decode(chunk)) messages.push([this.decode(buf), buf.byteLength])
    } catch (err: any) {
      throw this.violation(err instanceof ProtocolViolationError ? err : new ProtocolViolationError(err.message ?? String(err)))
    }
    return messages
  }

  private violation (err: ProtocolViolationError): ProtocolViolationError {
    this.onViolation?.(err)
    return err
  }

  /** Queue a framed message; resolves once the stream accepted it. */
  async write (data: Uint8ArrayList): Promise<void> {
    const next = this.writing.then(async () => {
      if (!this.isOpen) {
        throw new ProtocolViolationError('stream is closed')
      }
      if (!this.stream.send(data)) {
        await this.stream.onDrain({ signal: AbortSignal.timeout(WRITE_TIMEOUT) })
      }
    })
    // a failed write must not poison the ones queued after it
    this.writing = next.catch(() => {})
    await next
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.stream.close({ signal: AbortSignal.timeout(WRITE_TIMEOUT) })
    } catch (err: any) {
      this.stream.abort(err)
    }
  }

  abort (err: Error): void {
    if (this.closed && this.stream.status !== 'open') return
    this.closed = true
    this.log('aborting stream: %s', err.message)
    this.stream.abort(err)
  }
}
