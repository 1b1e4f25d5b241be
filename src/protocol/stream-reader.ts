import { StreamAbortedError, StreamResetError } from '@libp2p/interface'
import { PAUSED_READ_BUFFER, READ_AHEAD } from './constants.js'
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ReadStreamOptions {
  /** Bytes received and not yet taken past which the stream is paused (default READ_AHEAD). */
  readAhead?: number
}

/**
 * The chunks a stream receives, until the remote closes its writable end
 * (the generator returns) or the stream is reset or aborted (it throws).
 *
 * libp2p's own stream iterator ends on the `remoteCloseWrite` event only.
 * When data and the remote's close arrive together before anyone reads
 * (a hostile peer sending part of a message and closing, while the protocol
 * is still being negotiated here), that event has already passed when the
 * iterator starts, and it never ends. This reader also ends on `end`, and
 * checks `readableEnded` itself.
 *
 * Backpressure: a muxed stream hands over every chunk as it arrives (yamux
 * grants the sender more window for each data frame, read or not), so a
 * consumer that is slow (a download rate limit, a request being answered)
 * would see the chunks pile up here without bound. Once `readAhead` bytes
 * wait, the stream is paused: yamux stops granting window, the sender runs
 * out of it, and what it had left (at most its window, 16 MiB) waits in the
 * stream's own read buffer. Reading resumes when the consumer has taken
 * everything queued.
 */
export async function * readStream (stream: Stream, options: ReadStreamOptions = {}): AsyncGenerator<Uint8Array | Uint8ArrayList> {
  const readAhead = options.readAhead ?? READ_AHEAD
  const queue: Array<Uint8Array | Uint8ArrayList> = []
  let queued = 0
  let paused = false
  let resuming = false
  let done = false
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const notify = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  const endIfDrained = (): void => {
    if (stream.readableEnded && stream.readBufferLength === 0) {
      done = true
      notify()
    }
  }
  const pauseIfBehind = (): void => {
    if (queued < readAhead || paused || stream.readStatus !== 'readable') return
    // what the sender may still send once paused lands in the stream's read buffer: room for a whole window
    if (stream.maxReadBufferLength < PAUSED_READ_BUFFER) stream.maxReadBufferLength = PAUSED_READ_BUFFER
    paused = true
    stream.pause()
  }
  const onMessage = (evt: StreamMessageEvent): void => {
    queue.push(evt.data)
    queued += evt.data.byteLength
    // not from inside resume(): it tells the muxer to go on after handing over the buffer
    if (!resuming) pauseIfBehind()
    endIfDrained()
    notify()
  }
  const onEnd = (): void => {
    done = true
    notify()
  }
  const onClose = (evt: StreamCloseEvent): void => {
    if (evt.error != null) failure = evt.error
    done = true
    notify()
  }
  // adding a message listener delivers data buffered before it (in a microtask)
  stream.addEventListener('message', onMessage)
  stream.addEventListener('end', onEnd)
  stream.addEventListener('close', onClose)
  try {
    if (stream.status !== 'open' && stream.readBufferLength === 0) {
      // closed before we began: gracefully, or by a reset or abort
      if (stream.status === 'reset' || stream.status === 'aborted') failure = stream.status === 'reset' ? new StreamResetError('stream was reset') : new StreamAbortedError('stream was aborted')
      done = true
    }
    endIfDrained()
    while (true) {
      if (queue.length > 0) {
        const chunk = queue.shift()!
        queued -= chunk.byteLength
        yield chunk
        continue
      }
      if (failure != null) throw failure
      if (paused) {
        // the consumer has taken everything: let the sender go on (resuming hands over what the stream buffered)
        paused = false
        if (stream.readStatus === 'paused') {
          resuming = true
          try {
            stream.resume()
          } finally {
            resuming = false
          }
          pauseIfBehind()
        }
        continue
      }
      if (done) return
      await new Promise<void>(resolve => { wake = resolve })
    }
  } finally {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose)
  }
}
