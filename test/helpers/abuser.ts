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
import { BitswapMessage, WantType } from '../../src/protocol/pb/bitswap.js'
import { Request } from '../../src/protocol/pb/blocks.js'
import { SwarmMessage } from '../../src/protocol/pb/swarm.js'
import { BITSWAP_PROTOCOLS, BLOCK_PROTOCOL, MAX_PEERS_PER_MESSAGE, REPLICA_PROTOCOL, SWARM_PROTOCOL } from '../../src/protocol/constants.js'
import { loopbackHost } from './cli.js'
import { Message, MessageType } from './dht-message.js'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const SHOAL_PROTOCOLS = [BLOCK_PROTOCOL, SWARM_PROTOCOL, REPLICA_PROTOCOL]

/** A message with its varint length prefix, as every Shoal protocol frames them. */
export function framed (body: Uint8Array): Uint8Array {
  const prefix = varint.encode(body.byteLength)
  const out = new Uint8Array(prefix.byteLength + body.byteLength)
  out.set(prefix)
  out.set(body, prefix.byteLength)
  return out
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

/** One round of a flood: runs until the daemon closes its stream (it throws) or the flooder stops. */
export type Flood = (node: Libp2p, target: Multiaddr, flooder: Flooder) => Promise<void>

/**
 * A peer (plain libp2p) that floods one daemon with one kind of message as
 * fast as the daemon takes them, until stopped: one round after another,
 * and under a new peer ID whenever the daemon bans it. It answers Bitswap
 * streams the daemon opens to it by reading and dropping what comes.
 */
export class Flooder {
  /** Messages sent so far. */
  sent = 0
  /** Peer IDs used so far (one more each time it was banned). */
  identities = 1
  private running = false
  private loop?: Promise<void>
  private readonly waiting: Array<{ n: number, resolve(): void }> = []
  /** The streams a round floods on: aborted when the flooder stops. */
  private readonly streams = new Set<Stream>()

  private constructor (private node: Libp2p, readonly target: Multiaddr, private readonly flood: Flood) {}

  static async start (target: string, flood: Flood): Promise<Flooder> {
    const flooder = new Flooder(await Flooder.createNode(), multiaddr(target), flood)
    flooder.running = true
    flooder.loop = flooder.run()
    return flooder
  }

  get isRunning (): boolean {
    return this.running
  }

  /** A stream a round floods on (aborted if the flooder stops first). */
  track (stream: Stream): Stream {
    this.streams.add(stream)
    stream.addEventListener('close', () => { this.streams.delete(stream) }, { once: true })
    return stream
  }

  /**
   * Count a message sent. Every few messages this waits for the event loop
   * to turn: small messages that the stream takes at once would otherwise
   * keep everything else in this process (timers, I/O) from running.
   */
  async count (n = 1): Promise<void> {
    this.sent += n
    for (const w of this.waiting.filter(w => this.sent >= w.n)) {
      this.waiting.splice(this.waiting.indexOf(w), 1)
      w.resolve()
    }
    if (this.sent % 16 === 0) await new Promise(resolve => setImmediate(resolve))
  }

  /** Resolves once `n` messages have been sent. */
  async flowing (n: number): Promise<void> {
    if (this.sent >= n) return
    await new Promise<void>(resolve => { this.waiting.push({ n, resolve }) })
  }

  async stop (): Promise<void> {
    this.running = false
    for (const stream of this.streams) stream.abort(new Error('flood over'))
    await this.loop
    await this.node.stop()
  }

  private static async createNode (): Promise<Libp2p> {
    const node = await createNode()
    for (const protocol of BITSWAP_PROTOCOLS) {
      await node.handle(protocol, async stream => {
        try {
          for await (const chunk of stream) void chunk
        } catch {}
      }, { maxInboundStreams: 64 })
    }
    return node
  }

  private async run (): Promise<void> {
    while (this.running) {
      const before = this.sent
      try {
        await this.flood(this.node, this.target, this)
      } catch {
        // the daemon closed the stream: go on, under a new identity if it no longer lets us in
      }
      if (!this.running) break
      // a round that failed at once must not spin: let the event loop turn
      await new Promise(resolve => setImmediate(resolve))
      // nothing went through (a connection whose muxer is gone still counts as open for a while): a new one
      if (this.sent === before) await this.node.hangUp(this.target).catch(() => {})
      if (await this.admitted()) continue
      // banned: a new identity, which waits its turn if the daemon refuses new connections for a while
      await this.node.stop()
      this.node = await Flooder.createNode()
      while (this.running && !(await this.admitted())) await new Promise(resolve => setTimeout(resolve, 100))
      this.identities++
    }
  }

  private async admitted (): Promise<boolean> {
    return await this.node.dial(this.target).then(() => true, () => false)
  }
}

/** Write `bytes` on `stream`, waiting for the stream's next drain when it is full. */
export async function sendPaced (stream: Stream, bytes: Uint8Array): Promise<void> {
  if (stream.send(bytes)) return
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
      if (err == null) resolve()
      else reject(err)
    }
    const onDrain = (): void => { done() }
    const onClose = (): void => { done(new Error('stream closed')) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
}

/** Want-haves for `count` random CIDs (a "send don't have" on each), in one Bitswap message, as Helia or Kubo send them. */
export async function wantHaves (count: number): Promise<Uint8Array> {
  const entries = await Promise.all(Array.from({ length: count }, async () => ({
    block: (await randomCid()).bytes, priority: 1, cancel: false, wantType: WantType.WantHave, sendDontHave: true
  })))
  return framed(BitswapMessage.encode({ wantlist: { entries, full: false }, blocks: [], payload: [], blockPresences: [], pendingBytes: 0 }))
}

/** A Bitswap message carrying one block of `size` random bytes (raw, sha2-256), which nobody asked for. */
export function unsolicitedBlock (size: number): Uint8Array {
  // CIDv1, raw (0x55), sha2-256 (0x12), 32-byte digest
  const prefix = Uint8Array.of(0x01, 0x55, 0x12, 0x20)
  return framed(BitswapMessage.encode({ blocks: [], payload: [{ prefix, data: randomBytes(size) }], blockPresences: [], pendingBytes: 0 }))
}

/** Random, well-formed Ed25519 peer IDs (binary multihash), without the cost of making keys. */
export function fakePeerIds (count: number): Array<Uint8Array<ArrayBuffer>> {
  // identity multihash (0x00, 36 bytes) of a protobuf public key: type Ed25519 (0x08 0x01), data (0x12 0x20 + 32 bytes)
  return Array.from({ length: count }, () => Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20, ...randomBytes(32)]))
}

/** A swarm message (`/shoal/swarm`), framed. */
export function swarmMessage (msg: Partial<SwarmMessage>): Uint8Array {
  return framed(SwarmMessage.encode({ root: new Uint8Array(0), complete: false, leafCount: 0, bitfield: new Uint8Array(0), have: [], peers: [], leaving: false, ...msg }))
}

/** Floods, one kind each: what a `Flooder` does, round after round. */
export const floods = {
  /** Bitswap want-haves for random CIDs, `perMessage` a message, back to back on one stream. */
  wantHaves (perMessage: number): Flood {
    return async (node, target, flooder) => {
      const stream = flooder.track(await node.dialProtocol(target, BITSWAP_PROTOCOLS[0]))
      while (flooder.isRunning) {
        await sendPaced(stream, await wantHaves(perMessage))
        await flooder.count()
      }
      stream.abort(new Error('done'))
    }
  },

  /** Bitswap messages of one unsolicited block of `size` random bytes each, back to back on one stream. */
  unsolicitedBlocks (size: number): Flood {
    const message = unsolicitedBlock(size)
    return async (node, target, flooder) => {
      const stream = flooder.track(await node.dialProtocol(target, BITSWAP_PROTOCOLS[0]))
      while (flooder.isRunning) {
        await sendPaced(stream, message)
        await flooder.count()
      }
      stream.abort(new Error('done'))
    }
  },

  /**
   * Peer exchange on a swarm stream about `root`: lists of 50 made-up peers
   * (fresh IDs each time) all at `addr`, back to back. The first message
   * names the root and holds nothing (so nobody asks this peer for blocks).
   */
  peerRecords (root: Uint8Array<ArrayBuffer>, addr: Multiaddr): Flood {
    return async (node, target, flooder) => {
      const stream = flooder.track(await node.dialProtocol(target, SWARM_PROTOCOL))
      await sendPaced(stream, swarmMessage({ root }))
      while (flooder.isRunning) {
        const peers = fakePeerIds(MAX_PEERS_PER_MESSAGE).map(id => ({ id, addrs: [addr.bytes as Uint8Array<ArrayBuffer>] }))
        await sendPaced(stream, swarmMessage({ peers }))
        await flooder.count()
      }
      stream.abort(new Error('done'))
    }
  },

  /**
   * Swarm streams about `root`: every other one opens with a bitfield of
   * 2^32 - 1 leaves in one byte and waits for the daemon to end it; the
   * others send bitfields of 2^20 leaves (128 KiB each) back to back until
   * the daemon ends the stream. Each bitfield counts as sent.
   */
  bitfields (root: Uint8Array<ArrayBuffer>): Flood {
    const huge = swarmMessage({ root, leafCount: 2 ** 32 - 1, bitfield: new Uint8Array(1) })
    const large = swarmMessage({ root, leafCount: 2 ** 20, bitfield: new Uint8Array(2 ** 17).fill(0x55) })
    let round = 0
    return async (node, target, flooder) => {
      const stream = flooder.track(await node.dialProtocol(target, SWARM_PROTOCOL))
      if (round++ % 2 === 0) {
        const ended = new Promise(resolve => { stream.addEventListener('close', resolve, { once: true }) })
        await sendPaced(stream, huge)
        await flooder.count()
        await ended
        return
      }
      while (flooder.isRunning) {
        await sendPaced(stream, large)
        await flooder.count()
      }
      stream.abort(new Error('done'))
    }
  }
}
