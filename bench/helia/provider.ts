/**
 * Child process for the Helia comparison: imports a file with @helia/unixfs
 * (1 MiB chunks, raw leaves, CIDv1: the same DAG Shoal builds) and serves it
 * over bitswap. Prints {addresses, cid} as one JSON line.
 * Usage: node provider.js FILE BLOCKS_DIR
 */
import fs from 'node:fs'
import { unixfs } from '@helia/unixfs'
import { createBenchHelia } from './node.js'

const [file, blocksDir] = process.argv.slice(2)
const helia = await createBenchHelia('/ip4/127.0.0.22/tcp/0', blocksDir)
const cid = await unixfs(helia).addByteStream(fs.createReadStream(file))
process.stdout.write(JSON.stringify({ addresses: helia.libp2p.getMultiaddrs().map(String), cid: cid.toString() }) + '\n')
process.on('SIGTERM', () => { void helia.stop().then(() => process.exit(0)) })
