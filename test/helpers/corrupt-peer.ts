/**
 * A hostile peer for tests: a real Shoal daemon whose store hands the block
 * server every leaf with one byte flipped, so each block it serves fails
 * verification at the receiver; with SHOAL_TEST_STALL=1 it never answers a
 * request for a leaf instead (a peer that stalls). Usage:
 * node corrupt-peer.js daemon --repo DIR [--listen A] [--bootstrap A]
 *   [--group-key FILE --check-interval S --grace-period S]
 */
import { startDaemon } from '../../src/daemon/daemon.js'
import { createLog } from '../../src/daemon/log.js'
import { RAW_CODE } from '../../src/content/dag.js'
import type { VerifiedBlock } from '../../src/content/verify.js'

const argv = process.argv.slice(2)
const opt = (name: string): string[] => argv.flatMap((a, i) => a === `--${name}` ? [argv[i + 1]] : [])
const seconds = (name: string): number | undefined => opt(name).length > 0 ? Number(opt(name)[0]) * 1000 : undefined
const replication = Object.fromEntries(Object.entries({
  groupKeyFile: opt('group-key')[0],
  checkInterval: seconds('check-interval'),
  gracePeriod: seconds('grace-period')
}).filter(([, v]) => v != null))
const daemon = await startDaemon({
  repo: opt('repo')[0],
  config: { listen: opt('listen'), bootstrap: opt('bootstrap'), ...(Object.keys(replication).length > 0 ? { replication } : {}) } as any,
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
