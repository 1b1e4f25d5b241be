import { TimeoutError } from '@libp2p/interface'
import { ProtocolViolationError } from '../errors.js'
import { STREAM_IDLE_TIMEOUT, WRITE_TIMEOUT } from './constants.js'
import { nextDrain } from './drain.js'
import { FrameDecoder } from './frame-decoder.js'
import { readStream } from './stream-reader.js'
import type { Logger, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface FramedStreamInit<T> {
  stream: Stream
  decode(buf: Uint8ArrayList): T
  maxMessageSize: number
  log: Logger
  /** Called when the remote breaks the framing or sends a message that does not decode, or a caller reports a breach (`violation`). */
  onViolation?(err: ProtocolViolationError): void
  /** No message in or out for this long aborts the stream (ms; default STREAM_IDLE_TIMEOUT). */
  idleTimeout?: number
}

/**
 * Length-prefixed protobuf messages over one libp2p stream: a read loop that
 * hands each decoded message to a callback, and writes that are serialised
 * and wait for the stream to drain (so memory stays bounded). A malformed or
 * oversized message aborts the stream, and so does a stream with no message
 * in or out for `idleTimeout`: libp2p acts on a stream's own
 * `inactivityTimeout` only for TCP sockets, never for streams muxed over
 * them, so every Shoal protocol keeps its idle timer here. Time the stream
 * spends waiting on us (a message being handled, a write waiting to drain,
 * which has its own timeout) does not count as idle.
 */
export class FramedStream<T> {
  readonly stream: Stream
  private readonly decode: (buf: Uint8ArrayList) => T
  private readonly maxMessageSize: number
  private readonly log: Logger
  private readonly onViolation?: (err: ProtocolViolationError) => void
  private readonly idleTimeout: number
  private writing: Promise<void> = Promise.resolve()
  private closed = false
  private aborted = false
  /** When a message last went in or out. */
  private lastActivity = Date.now()
  /** Messages being handled and writes waiting to drain: the stream is not idle while any is. */
  private busy = 0
  private idleTimer?: ReturnType<typeof setTimeout>

  constructor (init: FramedStreamInit<T>) {
    this.stream = init.stream
    this.decode = init.decode
    this.maxMessageSize = init.maxMessageSize
    this.log = init.log
    this.onViolation = init.onViolation
    this.idleTimeout = init.idleTimeout ?? STREAM_IDLE_TIMEOUT
    this.armIdleTimer(this.idleTimeout)
    // a closed stream needs no timer (nor should one keep it in memory)
    this.stream.addEventListener('close', () => { this.stopIdleTimer() }, { once: true })
  }

  get isOpen (): boolean {
    return !this.closed && this.stream.status === 'open'
  }

  /**
   * Read messages until the remote closes its side or the stream fails.
   * `onClose` is called exactly once, with the error if there was one. A
   * promise returned by `onMessage` (a rate limit, an answer being made)
   * pauses reading until it settles, and the stream with it once a little
   * has queued (see `readStream`): the sender feels it as backpressure.
   */
  read (onMessage: (msg: T, size: number) => void | Promise<void>, onClose: (err?: Error) => void): void {
    const decoder = new FrameDecoder(this.maxMessageSize)
    void (async () => {
      try {
        for await (const chunk of readStream(this.stream)) {
          for (const [msg, size] of this.messagesIn(decoder, chunk)) {
            // a message handled before this one broke a rule: the rest of the chunk is not read
            if (this.aborted) break
            this.lastActivity = Date.now()
            const wait = onMessage(msg, size)
            if (wait != null) await this.whileBusy(wait)
          }
        }
        if (decoder.midFrame) throw this.violation(new ProtocolViolationError('stream ended inside a message', 'truncated'))
        this.closed = true
        this.stopIdleTimer()
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

  /** The remote broke a rule above the framing (a flood, blocks nobody asked for): count it against the peer and abort the stream. */
  violated (err: ProtocolViolationError): void {
    if (!this.isOpen) return
    this.violation(err)
    this.abort(err)
  }

  /**
   * Queue a framed message; resolves once the stream has handed all of it
   * to the muxer. When `send()` says the stream is full, the write waits
   * for the stream's next `drain` (see `nextDrain`), and again after each
   * drain while bytes are left: a drain means the muxer can take more (a
   * yamux window update, some 256 KiB), not that the message went. A peer
   * that lets no drain come for WRITE_TIMEOUT has its stream aborted.
   */
  async write (data: Uint8ArrayList): Promise<void> {
    const next = this.writing.then(async () => {
      if (!this.isOpen) {
        throw new ProtocolViolationError('stream is closed')
      }
      this.lastActivity = Date.now()
      if (this.stream.send(data)) return
      await this.whileBusy(this.drained())
    })
    // a failed write must not poison the ones queued after it
    this.writing = next.catch(() => {})
    await next
  }

  /** Resolves once the stream's write buffer is empty. */
  private async drained (): Promise<void> {
    try {
      do {
        await nextDrain(this.stream, { timeout: WRITE_TIMEOUT })
        // after a drain the stream sends on from its buffer (in a microtask queued before this one): wait
        // again only if it is full again with bytes left
      } while (this.stream.writeBufferLength > 0 && this.stream.writableNeedsDrain)
    } catch (err: any) {
      if (err instanceof TimeoutError) this.abort(err)
      throw err
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.stopIdleTimer()
    try {
      await this.stream.close({ signal: AbortSignal.timeout(WRITE_TIMEOUT) })
    } catch (err: any) {
      this.stream.abort(err)
    }
  }

  abort (err: Error): void {
    this.stopIdleTimer()
    if (this.closed && this.stream.status !== 'open') return
    this.closed = true
    this.aborted = true
    this.log('aborting stream: %s', err.message)
    this.stream.abort(err)
  }

  private async whileBusy (work: Promise<void>): Promise<void> {
    this.busy++
    try {
      await work
    } finally {
      this.busy--
      this.lastActivity = Date.now()
    }
  }

  /** One timer per stream, set again from the last activity when it fires (cheaper than one per message). */
  private armIdleTimer (delay: number): void {
    this.idleTimer = setTimeout(() => { this.checkIdle() }, delay)
    // an open stream alone must not keep a process alive
    this.idleTimer.unref?.()
  }

  private stopIdleTimer (): void {
    clearTimeout(this.idleTimer)
    this.idleTimer = undefined
  }

  private checkIdle (): void {
    this.idleTimer = undefined
    if (this.closed || this.stream.status !== 'open') return
    const quiet = Date.now() - this.lastActivity
    if (this.busy > 0 || quiet < this.idleTimeout) {
      this.armIdleTimer(this.busy > 0 ? this.idleTimeout : this.idleTimeout - quiet)
      return
    }
    this.abort(new TimeoutError(`no message in or out for ${Math.round(quiet / 1000)} s`))
  }
}
