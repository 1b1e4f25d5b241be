/**
 * A hostile peer for tests: a real Shoal daemon whose store hands the block
 * server every leaf with one byte flipped, so each block it serves fails
 * verification at the receiver. Usage: node corrupt-peer.js daemon --repo DIR [daemon options]
 */
import { startDaemon } from '../../src/daemon/daemon.js'
import { RAW_CODE } from '../../src/content/dag.js'
import type { VerifiedBlock } from '../../src/content/verify.js'

const argv = process.argv.slice(2)
const opt = (name: string): string[] => argv.flatMap((a, i) => a === `--${name}` ? [argv[i + 1]] : [])
const daemon = await startDaemon({
  repo: opt('repo')[0],
  config: { listen: opt('listen'), bootstrap: opt('bootstrap') },
  report: line => { process.stderr.write(`shoal daemon: ${line}\n`) }
})
const blocks = daemon.node.repo.blocks
const honestGet = blocks.get.bind(blocks)
blocks.get = async (cid, options): Promise<VerifiedBlock> => {
  const block = await honestGet(cid, options)
  if (cid.code !== RAW_CODE) return block
  const bytes = Uint8Array.from(block.bytes)
  bytes[0] ^= 0xff
  return { cid, bytes, verified: true }
}
await daemon.stopped
