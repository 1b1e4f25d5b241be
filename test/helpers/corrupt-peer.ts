/**
 * A hostile peer for tests: a real Shoal daemon whose store hands the block
 * server every leaf with one byte flipped, so each block it serves fails
 * verification at the receiver; with SHOAL_TEST_STALL=1 it never answers a
 * request for a leaf instead (a peer that stalls). Usage:
 * node corrupt-peer.js daemon --repo DIR [daemon options]
 */
import { startDaemon } from '../../src/daemon/daemon.js'
import { createLog } from '../../src/daemon/log.js'
import { RAW_CODE } from '../../src/content/dag.js'
import type { VerifiedBlock } from '../../src/content/verify.js'

const argv = process.argv.slice(2)
const opt = (name: string): string[] => argv.flatMap((a, i) => a === `--${name}` ? [argv[i + 1]] : [])
const daemon = await startDaemon({
  repo: opt('repo')[0],
  config: { listen: opt('listen'), bootstrap: opt('bootstrap') },
  log: createLog(),
  readyFd: opt('ready-fd').map(Number)[0]
})
const blocks = daemon.node.repo.blocks
const honestGet = blocks.get.bind(blocks)
blocks.get = async (cid, options): Promise<VerifiedBlock> => {
  const block = await honestGet(cid, options)
  if (cid.code !== RAW_CODE) return block
  if (process.env.SHOAL_TEST_STALL === '1') {
    // hold the request until the requester gives up on it
    return await new Promise((resolve, reject) => {
      options?.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }, { once: true })
    })
  }
  const bytes = Uint8Array.from(block.bytes)
  bytes[0] ^= 0xff
  return { cid, bytes, parts: [bytes], byteLength: bytes.byteLength, verified: true }
}
await daemon.stopped
