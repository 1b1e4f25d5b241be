import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { unixfs } from '@helia/unixfs'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import { loopbackHost } from './cli.js'
import type { CID } from 'multiformats/cid'

export interface TestHelia {
  /** The Helia node (its libp2p at `.libp2p`). */
  node: any
  /** Its listen address with /p2p/. */
  address: string
  add(bytes: Uint8Array): Promise<CID>
  cat(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array>
  stop(): Promise<void>
}

/**
 * A stock Helia node (Helia's own libp2p wiring and encrypters, Bitswap, blocks in memory)
 * on its own loopback address; with `dht`, Kademlia on the IPFS DHT's
 * protocol, bootstrapped to nothing but the peers the test dials. Nothing
 * of Shoal is in it: what it fetches from Shoal, it fetches as any IPFS
 * client would.
 */
export async function startHelia (options: { dht?: boolean } = {}): Promise<TestHelia> {
  const services: Record<string, unknown> = { identify: identify() }
  if (options.dht === true) {
    services.ping = ping()
    services.dht = kadDHT({ protocol: '/ipfs/kad/1.0.0', clientMode: false, peerInfoMapper: passthroughMapper })
  }
  const helia = createHeliaLight({ blockstore: new MemoryBlockstore(), datastore: new MemoryDatastore() } as any)
  const withNet = withLibp2pLight(helia as any, {
    addresses: { listen: [`/ip4/${loopbackHost()}/tcp/0`] },
    transports: [tcp()],
    // Helia's own choice and order (its libp2p defaults): noise, then TLS
    connectionEncrypters: [noise(), tls()],
    streamMuxers: [yamux()],
    services
  } as any)
  const node: any = withBitswap(withNet as any)
  await node.start()
  const fs = unixfs(node)
  return {
    node,
    address: node.libp2p.getMultiaddrs()[0].toString(),
    add: async bytes => await fs.addBytes(bytes),
    cat: async (cid, opts = {}) => {
      const parts: Uint8Array[] = []
      for await (const part of fs.cat(cid, { signal: opts.signal })) parts.push(part)
      return Buffer.concat(parts)
    },
    stop: async () => { await node.stop() }
  }
}
