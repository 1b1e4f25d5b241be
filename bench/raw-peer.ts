/**
 * The baseline peer for the benchmark: a bare libp2p node with the same
 * transport stack as Shoal (TCP + noise + yamux) that, on each stream of
 * /shoal-bench/raw/1.0.0, sends the number of bytes the client asks for in
 * writes of `CHUNK` bytes. Run as a child process so that, like two
 * daemons, the two ends do not share a CPU core.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { RAW_PROTOCOL } from './constants.js'

const CHUNK = 1024 * 1024

const node = await createLibp2p({
  addresses: { listen: [`/ip4/${process.argv[2] ?? '127.0.0.1'}/tcp/0`] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()]
})

await node.handle(RAW_PROTOCOL, async (stream) => {
  // the first message says how many chunks to send
  const first = await stream[Symbol.asyncIterator]().next()
  const buf = first.done === true ? undefined : first.value.subarray()
  const total = buf == null ? 0 : new DataView(buf.buffer, buf.byteOffset).getUint32(0) * CHUNK
  const chunk = new Uint8Array(CHUNK).fill(7)
  for (let sent = 0; sent < total; sent += CHUNK) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
}, { maxOutboundStreams: 8 })

process.stdout.write(JSON.stringify({ addresses: node.getMultiaddrs().map(String) }) + '\n')
process.on('SIGTERM', () => { void Promise.resolve(node.stop()).then(() => process.exit(0)) })
