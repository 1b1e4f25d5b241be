/**
 * The other end of the raw-stream baseline: dials a raw peer, pulls SIZE
 * MiB over one stream RUNS times (a new stream each, after one untimed run
 * that warms both ends up). After the warm-up it prints `{"warm":true}` and
 * waits for a line on stdin (the benchmark reads the sender's CPU time
 * then); at the end it prints one JSON line: each run's seconds and this
 * process's CPU-seconds during it. Gives up after TIMEOUT.
 * Usage: node raw-client.js HOST ENCRYPTER PEER_ADDRESS SIZE_MIB RUNS
 */
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { RAW_PROTOCOL } from './constants.js'
import { encryptersOf, yamuxOptions } from './transports.js'

/** The most a whole run of the client may take (ms): a stalled stream ends the benchmark, not hangs it. */
const TIMEOUT = 300_000

const [host, encrypter, address, size, runs] = process.argv.slice(2)
setTimeout(() => {
  process.stderr.write('raw-client: timed out\n')
  process.exit(1)
}, TIMEOUT).unref()
const sizeMiB = Number(size)
const client = await createLibp2p({
  addresses: { listen: [`/ip4/${host}/tcp/0`] },
  transports: [tcp()],
  connectionEncrypters: encryptersOf(encrypter),
  streamMuxers: [yamux(yamuxOptions())]
})
const seconds: number[] = []
const cpuSeconds: number[] = []
let encryption = ''
for (let r = -1; r < Number(runs); r++) {
  const cpu = process.cpuUsage()
  const start = performance.now()
  const stream = await client.dialProtocol(multiaddr(address), RAW_PROTOCOL)
  const ask = new Uint8Array(4)
  new DataView(ask.buffer).setUint32(0, sizeMiB)
  stream.send(ask)
  let received = 0
  for await (const buf of stream) received += buf.byteLength
  if (received !== sizeMiB * 1024 * 1024) throw new Error(`raw stream moved ${received} bytes`)
  if (r < 0) {
    process.stdout.write(JSON.stringify({ warm: true }) + '\n')
    await new Promise(resolve => process.stdin.once('data', resolve))
    continue
  }
  seconds.push((performance.now() - start) / 1000)
  const used = process.cpuUsage(cpu)
  cpuSeconds.push((used.user + used.system) / 1e6)
  encryption = client.getConnections()[0]?.encryption ?? ''
}
process.stdout.write(JSON.stringify({ seconds, cpuSeconds, encryption }) + '\n')
await client.stop()
process.stdin.destroy()
