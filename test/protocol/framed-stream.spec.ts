import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import { streamPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { frame } from '../../src/protocol/codec.js'
import { FramedStream } from '../../src/protocol/framed-stream.js'
import { sleep } from '../../src/signals.js'
import { yamuxPair } from '../helpers/yamux-pair.js'
import type { Stream } from '@libp2p/interface'

const MiB = 1024 * 1024
const log = defaultLogger().forComponent('test:framed')

function framed (stream: Stream, idleTimeout?: number): FramedStream<Uint8ArrayList> {
  return new FramedStream({ stream, decode: buf => buf, maxMessageSize: 2 * MiB, log, idleTimeout })
}

/** Resolves with the time (ms since `since`) the stream closed. */
async function closedAfter (stream: Stream, since: number): Promise<number> {
  if (stream.status !== 'open') return performance.now() - since
  await new Promise(resolve => { stream.addEventListener('close', resolve, { once: true }) })
  return performance.now() - since
}

describe('protocol: FramedStream', () => {
  it('a write waits for the stream\'s next drain: to a slow reader, the writer\'s queued bytes stay bounded (libp2p\'s onDrain() let them pile up)', async () => {
    const { outbound, inbound, close } = await yamuxPair()
    try {
      const writer = framed(outbound)
      const reader = framed(inbound)
      const total = 64
      const got: number[] = []
      const done = Promise.withResolvers<void>()
      // a slow reader: 5 ms per message
      reader.read(async msg => {
        got.push(msg.get(0))
        if (got.length === total) done.resolve()
        await sleep(5)
      }, err => { if (err != null) done.reject(err) })
      let queuedMax = 0
      for (let i = 0; i < total; i++) {
        await writer.write(frame(new Uint8Array(MiB).fill(i)))
        queuedMax = Math.max(queuedMax, outbound.writeBufferLength)
      }
      await done.promise
      assert.deepEqual(got, Array.from({ length: total }, (_, i) => i))
      // at most about the message being written waits in the stream (broken, nearly all 64 MiB did)
      assert.ok(queuedMax <= 2 * MiB, `${(queuedMax / MiB).toFixed(1)} MiB queued in the writer's stream`)
    } finally {
      close()
    }
  })

  it('aborts a stream with no message in or out for its idle time', async () => {
    const [a, b] = await streamPair()
    const started = performance.now()
    framed(a, 200)
    const after = await closedAfter(b, started)
    assert.ok(after >= 190 && after < 2_000, `closed after ${after.toFixed(0)} ms`)
    assert.equal(b.status, 'reset')
  })

  it('messages in and out keep a stream open past its idle time; it closes once they stop', async () => {
    const [a, b] = await streamPair()
    const ours = framed(a, 300)
    const theirs = framed(b)
    ours.read(() => {}, () => {})
    theirs.read(() => {}, () => {})
    const started = performance.now()
    // one way, then the other, every 100 ms, for three idle times
    for (let i = 0; i < 9; i++) {
      await (i % 2 === 0 ? ours : theirs).write(frame(Uint8Array.of(i)))
      await sleep(100)
    }
    assert.equal(a.status, 'open', 'closed while messages flowed')
    const quietSince = performance.now()
    const after = await closedAfter(a, quietSince)
    assert.ok(performance.now() - started > 900)
    assert.ok(after < 2_000, `closed ${after.toFixed(0)} ms after the last message`)
  })

  it('time spent handling a message is not idle time', async () => {
    const [a, b] = await streamPair()
    const ours = framed(a, 200)
    const handled = Promise.withResolvers<number>()
    ours.read(async () => {
      // a rate limit or an answer being made, longer than the idle time
      await sleep(600)
      handled.resolve(performance.now())
    }, () => {})
    await framed(b).write(frame(Uint8Array.of(1)))
    const done = await handled.promise
    assert.equal(a.status, 'open', 'closed while a message was being handled')
    const after = await closedAfter(a, done)
    assert.ok(after >= 150 && after < 2_000, `closed ${after.toFixed(0)} ms after the message was handled`)
  })
})
