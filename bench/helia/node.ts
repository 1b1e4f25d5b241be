import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { FsBlockstore } from 'blockstore-fs'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'

/**
 * A Helia node with only what a bitswap transfer needs: TCP + noise + yamux,
 * identify and bitswap, blocks on disk. No HTTP gateways or delegated
 * routing (which would reach outside this machine).
 */
export async function createBenchHelia (listen: string, blocksDir: string): Promise<any> {
  const helia = createHeliaLight({
    blockstore: new FsBlockstore(blocksDir),
    datastore: new MemoryDatastore()
  } as any)
  const withNet = withLibp2pLight(helia as any, {
    addresses: { listen: [listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  } as any)
  const node = withBitswap(withNet as any)
  await node.start()
  return node
}
