import { randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as varint from 'uint8-varint'
import { DHT_PROTOCOL } from '../../src/node/create-libp2p.js'
import { Request } from '../../src/protocol/pb/blocks.js'
import { BLOCK_PROTOCOL, REPLICA_PROTOCOL, SWARM_PROTOCOL } from '../../src/protocol/constants.js'
import { loopbackHost } from './cli.js'
import { Message, MessageType } from './dht-message.js'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const SHOAL_PROTOCOLS = [BLOCK_PROTOCOL, SWARM_PROTOCOL, REPLICA_PROTOCOL]

/** A message with its varint length prefix, as every Shoal protocol frames them. */
export function framed (body: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint.encode(body.byteLength), ...body])
}

/** The CID of 32 random bytes: a block nobody has. */
export async function randomCid (): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(randomBytes(32)))
}

async function createNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: [`/ip4/${loopbackHost()}/tcp/0`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

/** Failed attacks in a row after which the abuser takes a new identity (it was banned). */
const ROTATE_AFTER = 20

/**
 * A hostile peer (plain libp2p, no Shoal code) that keeps attacking one
 * daemon until stopped: junk bytes and truncated messages on every Shoal
 * protocol, floods of wants for blocks nobody has, DHT provider records for
 * random CIDs, and a hundred streams held open and idle. When the daemon
 * bans it, it comes back under a new peer ID (a new key costs nothing).
 */
export class Abuser {
  attacks = 0
  refused = 0
  /** Peer IDs used so far (one more each time it was banned). */
  identities = 1
  private running = false
  private loop?: Promise<void>
  private failuresInARow = 0
  private readonly idle: Stream[] = []
  private readonly waiting: Array<{ n: number, resolve(): void }> = []

  private constructor (private node: Libp2p, readonly target: Multiaddr) {}

  static async start (target: string): Promise<Abuser> {
    const abuser = new Abuser(await createNode(), multiaddr(target))
    abuser.running = true
    abuser.loop = abuser.run()
    return abuser
  }

  /** Resolves once `n` attacks have been made (the idle streams are held by then). */
  async attacked (n: number): Promise<void> {
    if (this.attacks >= n) return
    await new Promise<void>(resolve => { this.waiting.push({ n, resolve }) })
  }

  async stop (): Promise<void> {
    this.running = false
    await this.loop
    for (const s of this.idle) s.abort(new Error('done'))
    await this.node.stop()
  }

  private async run (): Promise<void> {
    await this.holdIdleStreams()
    while (this.running) {
      if (this.failuresInARow >= ROTATE_AFTER) {
        await this.node.stop()
        this.node = await createNode()
        this.identities++
        this.failuresInARow = 0
        await this.holdIdleStreams()
      }
      await this.attack()
      this.attacks++
      for (const w of this.waiting.filter(w => this.attacks >= w.n)) {
        this.waiting.splice(this.waiting.indexOf(w), 1)
        w.resolve()
      }
    }
  }

  private async holdIdleStreams (): Promise<void> {
    for (let i = 0; i < 100 && this.running; i++) {
      await this.attempt(async () => {
        this.idle.push(await this.node.dialProtocol(this.target, SHOAL_PROTOCOLS[i % 3]))
      })
    }
  }

  private async attack (): Promise<void> {
    const protocol = SHOAL_PROTOCOLS[this.attacks % 3]
    switch (this.attacks % 4) {
      case 0:
        await this.attempt(async () => { await this.sendAndClose(protocol, randomBytes(16 * 1024)) })
        break
      case 1:
        await this.attempt(async () => { await this.sendAndClose(protocol, Uint8Array.from([...varint.encode(100), ...randomBytes(10)])) })
        break
      case 2: {
        const want = await Promise.all(Array.from({ length: 512 }, async () => (await randomCid()).bytes))
        await this.attempt(async () => { await this.sendAndClose(BLOCK_PROTOCOL, framed(Request.encode({ want, cancel: [] }))) })
        break
      }
      default:
        await this.attempt(async () => {
          const s = pbStream(await this.node.dialProtocol(this.target, DHT_PROTOCOL))
          const self = { id: this.node.peerId.toMultihash().bytes, multiaddrs: this.node.getMultiaddrs().map(m => m.bytes) }
          for (let k = 0; k < 16; k++) {
            await s.write({ type: MessageType.ADD_PROVIDER, key: (await randomCid()).multihash.bytes, closer: [], providers: [self] }, Message)
          }
          await s.unwrap().close()
        })
    }
  }

  private async sendAndClose (protocol: string, bytes: Uint8Array): Promise<void> {
    const s = await this.node.dialProtocol(this.target, protocol)
    s.send(bytes)
    await s.close()
  }

  private async attempt (fn: () => Promise<void>): Promise<void> {
    try {
      await fn()
      this.failuresInARow = 0
    } catch {
      // refused or reset: the daemon is defending itself
      this.refused++
      this.failuresInARow++
    }
  }
}
