import assert from 'node:assert/strict'
import { streamPair } from '@libp2p/utils'
import { READ_AHEAD } from '../../src/protocol/constants.js'
import { readStream } from '../../src/protocol/stream-reader.js'
import { sleep } from '../../src/signals.js'
import { yamuxPair } from '../helpers/yamux-pair.js'
import type { Stream } from '@libp2p/interface'

async function collect (stream: Stream): Promise<number[]> {
  const bytes: number[] = []
  for await (const chunk of readStream(stream)) bytes.push(...chunk.subarray())
  return bytes
}

async function remoteClosed (stream: Stream): Promise<void> {
  if (stream.remoteWriteStatus === 'closed') return
  await new Promise(resolve => { stream.addEventListener('remoteCloseWrite', resolve, { once: true }) })
}

describe('protocol: readStream', () => {
  it('ends when the remote sent data and closed before anyone read (libp2p\'s own iterator waits forever there)', async () => {
    const [a, b] = await streamPair()
    a.send(Uint8Array.from([1, 2, 3]))
    await a.close()
    await remoteClosed(b)
    assert.deepEqual(await collect(b), [1, 2, 3])
  })

  it('reads what arrives while it waits, and ends when the remote closes', async () => {
    const [a, b] = await streamPair()
    const reading = collect(b)
    a.send(Uint8Array.from([1]))
    a.send(Uint8Array.from([2, 3]))
    await a.close()
    assert.deepEqual(await reading, [1, 2, 3])
  })

  it('throws when the stream is reset, also when that happened before it began', async () => {
    const [a, b] = await streamPair()
    const reading = collect(b)
    a.abort(new Error('hostile'))
    await assert.rejects(reading)

    const [c, d] = await streamPair()
    d.abort(new Error('gone'))
    await assert.rejects(collect(d))
    c.abort(new Error('done'))
  })

  it('pauses the stream while its consumer lags: what the sender has not sent waits on its side (yamux window), and nothing is lost', async () => {
    const { outbound, inbound, close } = await yamuxPair()
    try {
      const MiB = 1024 * 1024
      const total = 32
      // all of it handed to the sender's stream at once: yamux sends as much as its window lets it
      for (let i = 0; i < total; i++) outbound.send(new Uint8Array(MiB).fill(i))
      const reader = readStream(inbound)[Symbol.asyncIterator]()
      const received: Uint8Array[] = []
      const first = await reader.next()
      received.push(first.value!.subarray())
      // the consumer lags; without backpressure yamux grants window for every frame and all 32 MiB cross
      await sleep(500)
      const crossed = total * MiB - outbound.writeBufferLength
      assert.ok(crossed <= READ_AHEAD + 512 * 1024, `${(crossed / MiB).toFixed(2)} MiB left the sender while nobody read`)
      assert.equal(inbound.readStatus, 'paused')
      // reading again resumes the stream, and every byte arrives in order
      let bytes = received[0].byteLength
      while (bytes < total * MiB) {
        const next = await reader.next()
        assert.equal(next.done, false)
        received.push(next.value!.subarray())
        bytes += next.value!.byteLength
      }
      const all = Buffer.concat(received)
      for (let i = 0; i < total; i++) assert.equal(all[i * MiB], i, `MiB ${i}`)
      assert.equal(inbound.readStatus, 'readable')
    } finally {
      close()
    }
  })
})
