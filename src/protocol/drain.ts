import { AbortError, StreamStateError, TimeoutError } from '@libp2p/interface'
import type { Stream, StreamCloseEvent } from '@libp2p/interface'

/**
 * Waits for the stream's next `drain` event: call it when `stream.send()`
 * returned false. Rejects when the stream closes first, when `signal`
 * aborts, or after `timeout` ms (a `TimeoutError`).
 *
 * Not `stream.onDrain()`: in `@libp2p/utils` 7.4.1 (AbstractMessageStream)
 * it keeps the promise of the first wait and resolves that one at the first
 * drain, but never forgets it, so every later `onDrain()` returns that
 * resolved promise at once. A writer that awaited it had no backpressure
 * after its stream's first drain: a 64 MiB write to a slow reader was queued
 * in 18 ms, all of it held in the stream's write buffer.
 */
export async function nextDrain (stream: Stream, options: { signal?: AbortSignal, timeout: number }): Promise<void> {
  const { signal, timeout } = options
  signal?.throwIfAborted()
  if (stream.status !== 'open' && stream.status !== 'closing') throw new StreamStateError(`stream is ${stream.status}`)
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer)
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      signal?.removeEventListener('abort', onAbort)
      if (err == null) resolve()
      else reject(err)
    }
    const onDrain = (): void => { done() }
    const onClose = (evt: StreamCloseEvent): void => { done(evt.error ?? new StreamStateError('stream closed while a write waited')) }
    const onAbort = (): void => { done(signal?.reason ?? new AbortError()) }
    const timer = setTimeout(() => { done(new TimeoutError(`the stream did not drain within ${timeout} ms`)) }, timeout)
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
    signal?.addEventListener('abort', onAbort)
  })
}
