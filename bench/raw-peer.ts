/**
 * The baseline peer for the benchmark: a bare libp2p node with Shoal's
 * transport stack (TCP, the encrypter named, yamux) that, on each stream
 * of /shoal-bench/raw/1.0.0, sends the number of bytes the client asks for
 * in writes of `CHUNK` bytes. A child process, started with the daemons'
 * Node flags, like a daemon.
 * Usage: node raw-peer.js HOST ENCRYPTER
 */
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { RAW_PROTOCOL } from './constants.js'
import { encryptersOf, yamuxOptions } from './transports.js'
import type { Stream } from '@libp2p/interface'

const CHUNK = 1024 * 1024

const node = await createLibp2p({
  addresses: { listen: [`/ip4/${process.argv[2] ?? '127.0.0.1'}/tcp/0`] },
  transports: [tcp()],
  connectionEncrypters: encryptersOf(process.argv[3] ?? 'shoal'),
  streamMuxers: [yamux(yamuxOptions())]
})

/** Resolves at the stream's next 'drain' (onDrain() of @libp2p/utils 7.4.1 resolves at once after the first). */
async function drained (stream: Stream): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      stream.removeEventListener('drain', done)
      stream.removeEventListener('close', done)
      resolve()
    }
    stream.addEventListener('drain', done)
    stream.addEventListener('close', done)
  })
}

await node.handle(RAW_PROTOCOL, async (stream) => {
  // the first message says how many chunks to send
  const first = await stream[Symbol.asyncIterator]().next()
  const buf = first.done === true ? undefined : first.value.subarray()
  const total = buf == null ? 0 : new DataView(buf.buffer, buf.byteOffset).getUint32(0) * CHUNK
  const chunk = new Uint8Array(CHUNK).fill(7)
  for (let sent = 0; sent < total; sent += CHUNK) {
    if (!stream.send(chunk)) await drained(stream)
  }
  await stream.close()
}, { maxOutboundStreams: 8 })

process.stdout.write(JSON.stringify({ addresses: node.getMultiaddrs().map(String) }) + '\n')
process.on('SIGTERM', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
