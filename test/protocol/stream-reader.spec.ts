import assert from 'node:assert/strict'
import { streamPair } from '@libp2p/utils'
import { readStream } from '../../src/protocol/stream-reader.js'
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
})
