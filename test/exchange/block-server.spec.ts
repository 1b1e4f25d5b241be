import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { ProtocolViolationError } from '../../src/errors.js'
import { BanList } from '../../src/exchange/ban-list.js'
import { BlockServer } from '../../src/exchange/block-server.js'
import { HAVE_LOOKUP_BURST, HAVE_LOOKUP_RATE } from '../../src/exchange/constants.js'
import { Ledger } from '../../src/exchange/ledger.js'
import { TokenBucket } from '../../src/exchange/token-bucket.js'
import type { ServeChannelEvents } from '../../src/protocol/serve-channel.js'

async function block (n: number, size: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new Uint8Array(size).fill(n)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** A started BlockServer over `blocks`, with `channel` as its one inbound stream; `lookups` counts the store's `has` calls. */
async function serving (blocks: Array<{ cid: CID, bytes: Uint8Array }>, channel: unknown, uploadBucket: TokenBucket, ledger = new Ledger(), lookups = { count: 0 }): Promise<BlockServer> {
  const byKey = new Map(blocks.map(b => [b.cid.toString(), b]))
  let inbound: ((channel: any) => void) | undefined
  const server = new BlockServer({
    networks: [{ onInbound: async (handler: any) => { inbound = handler } }],
    blocks: {
      get: async (cid: CID) => byKey.get(cid.toString())!,
      has: async (cid: CID) => { lookups.count++; return byKey.has(cid.toString()) }
    } as any,
    ledger,
    bans: new BanList(),
    uploadBucket,
    logger: defaultLogger()
  }, { maxRequestsPerPeer: 64, maxConcurrentUploads: 32 })
  await server.start()
  inbound!(channel)
  return server
}

describe('exchange: BlockServer', () => {
  it('with an upload limit, a request cancelled while it waits for the bucket is never sent', async () => {
    const blocks = await Promise.all([1, 2, 3, 4, 5].map(async n => await block(n, 512 * 1024)))
    const sent: string[] = []
    const waiters = new Map<string, () => void>()
    const sentOf = async (cid: CID): Promise<void> => { await new Promise<void>(resolve => { waiters.set(cid.toString(), resolve) }) }
    let events: ServeChannelEvents | undefined
    const channel = {
      peer: { toString: () => 'downloader' },
      protocol: '/shoal/blocks/1.0.0',
      isOpen: true,
      listen (e: ServeChannelEvents) { events = e },
      async sendBlock (b: { cid: CID }) {
        sent.push(b.cid.toString())
        waiters.get(b.cid.toString())?.()
      },
      async sendDontHave () {},
      abort () {}
    }
    const ledger = new Ledger()
    // 1 MB/s: the burst lets two 512 KiB blocks go at once, the third waits about half a second
    const server = await serving(blocks, channel, new TokenBucket(1_000_000), ledger)
    const [a, b, c, d, e] = blocks.map(x => x.cid)
    const bSent = sentOf(b)
    events!.onRequest([a, b, c, d], [], [])
    await bSent
    // c and d are still queued (their bytes may not go yet): the cancel reaches them
    const eSent = sentOf(e)
    events!.onRequest([e], [c, d], [])
    await eSent
    assert.deepEqual(sent, [a, b, e].map(String))
    assert.equal(ledger.total.blocksSent, 3)
    await server.stop()
  })

  it('sends a stream\'s blocks one after another, and a block cancelled while it waits for its turn is never sent', async () => {
    const blocks = await Promise.all([1, 2, 3].map(async n => await block(n, 64 * 1024)))
    let events: ServeChannelEvents | undefined
    const sent: string[] = []
    const started = new Map<string, PromiseWithResolvers<void>>()
    const release = new Map<string, PromiseWithResolvers<void>>()
    const gate = (key: string, m: Map<string, PromiseWithResolvers<void>>): PromiseWithResolvers<void> => {
      let p = m.get(key)
      if (p == null) { p = Promise.withResolvers<void>(); m.set(key, p) }
      return p
    }
    const channel = {
      peer: { toString: () => 'downloader' },
      protocol: '/shoal/blocks/1.0.0',
      isOpen: true,
      listen (e: ServeChannelEvents) { events = e },
      async sendBlock (b: { cid: CID }) {
        const key = b.cid.toString()
        sent.push(key)
        gate(key, started).resolve()
        // the stream takes the block once the one before it has gone out
        await gate(key, release).promise
      },
      async sendDontHave () {},
      abort () {}
    }
    const server = await serving(blocks, channel, new TokenBucket(0))
    const [a, b, c] = blocks.map(x => x.cid)
    events!.onRequest([a, b], [], [])
    await gate(a.toString(), started).promise
    assert.deepEqual(sent, [a.toString()], 'b waits for a to go out')
    // b was read already, but has not had its turn: the cancel still reaches it
    events!.onRequest([c], [b], [])
    gate(a.toString(), release).resolve()
    gate(c.toString(), release).resolve()
    await gate(c.toString(), started).promise
    assert.deepEqual(sent, [a, c].map(String))
    await server.stop()
  })

  it('want-haves are bounded as block wants are: looked up at the peer\'s lookup rate, and a peer that queues more than the limit has broken it', async () => {
    const held = await Promise.all([1, 2].map(async n => await block(n, 1024)))
    const unknown = await Promise.all(Array.from({ length: 60 }, async (_, i) => (await block(1000 + i, 16)).cid))
    const answers: Array<PromiseWithResolvers<void>> = []
    let answered = 0
    const violations: ProtocolViolationError[] = []
    let events: ServeChannelEvents | undefined
    const channel = {
      peer: { toString: () => 'asker' },
      protocol: '/ipfs/bitswap/1.2.0',
      isOpen: true,
      listen (e: ServeChannelEvents) { events = e },
      async sendBlock () {},
      async sendDontHave () {},
      async sendPresence (have: CID[], dontHave: CID[]) {
        answered += have.length + dontHave.length
        answers.shift()?.resolve()
      },
      abort () {},
      violated (err: ProtocolViolationError) { violations.push(err) }
    }
    const lookups = { count: 0 }
    // 64 requests may be queued per stream
    const server = await serving(held, channel, new TokenBucket(0), new Ledger(), lookups)
    const asks = [...held.map(b => b.cid), ...unknown]
    // a peer that waits for each answer: 16 rounds of 62, about 1 000 lookups, answered at the lookup rate
    const started = performance.now()
    for (let round = 0; round < 16; round++) {
      const before = answered
      while (answered < before + asks.length) {
        const next = Promise.withResolvers<void>()
        answers.push(next)
        if (answered === before) events!.onRequest([], [], asks)
        await next.promise
      }
    }
    const seconds = (performance.now() - started) / 1000
    assert.equal(lookups.count, 16 * asks.length)
    assert.ok(seconds >= (lookups.count - HAVE_LOOKUP_BURST) / HAVE_LOOKUP_RATE * 0.9, `${lookups.count} lookups in ${seconds.toFixed(2)} s`)
    assert.equal(violations.length, 0)

    // a peer that does not wait: the first batch is being looked up, the next two pass the limit, which counts against it
    const more = await Promise.all(Array.from({ length: 3 * 40 }, async (_, i) => (await block(2000 + i, 16)).cid))
    for (let i = 0; i < 3; i++) events!.onRequest([], [], more.slice(i * 40, i * 40 + 40))
    assert.equal(violations.length, 1)
    assert.equal(violations[0].kind, 'flood')
    await server.stop()
  })
})
