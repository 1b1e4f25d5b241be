import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { StreamAbortedError, StreamResetError } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

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
 */
export async function * readStream (stream: Stream): AsyncGenerator<Uint8Array | Uint8ArrayList> {
  const queue: Array<Uint8Array | Uint8ArrayList> = []
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
  const onMessage = (evt: StreamMessageEvent): void => {
    queue.push(evt.data)
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
        yield queue.shift()!
        continue
      }
      if (failure != null) throw failure
      if (done) return
      await new Promise<void>(resolve => { wake = resolve })
    }
  } finally {
    stream.removeEventListener('message', onMessage)
    stream.removeEventListener('end', onEnd)
    stream.removeEventListener('close', onClose)
  }
}
