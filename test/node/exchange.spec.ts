import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { exporter } from 'ipfs-unixfs-exporter'
import { childLinks } from '../../src/content/dag.js'
import { sha256File } from '../helpers/cli.js'
import { TestSwarm, routingTableHas } from '../helpers/nodes.js'
import type { ShoalNode } from '../../src/node/shoal-node.js'
import type { CID } from 'multiformats/cid'

async function leavesOf (node: ShoalNode, root: CID): Promise<CID[]> {
  const block = await node.repo.blocks.get(root)
  return childLinks(root, block.bytes)
}

describe('node: fetching between in-process peers', function () {
  this.timeout(120_000)
  const swarm = new TestSwarm()

  afterEach(async () => {
    await swarm.stopAll()
  })

  it('fetches a file by CID through the DHT, verifies it, pins it and serves it on', async () => {
    const a = await swarm.start()
    const b = await swarm.start({}, { bootstrapTo: [a] })
    const c = await swarm.start({}, { bootstrapTo: [b] })
    await routingTableHas(c, 1)
    await routingTableHas(b, 2)

    const file = await swarm.writeRandomFile('input', 6 * 1024 * 1024 + 999)
    const added = await a.add(file)
    // wait for the provide to land before asking for it
    await a.discovery.provide(added.cid)

    const out = swarm.outputPath('copy')
    const result = await c.get(added.cid, out, { providerTimeout: 20_000 })
    assert.equal(await sha256File(out), await sha256File(file))
    assert.equal(result.size, 6 * 1024 * 1024 + 999)
    assert.equal(result.peers.length, 1)
    assert.equal(result.peers[0].peerId, a.peerId.toString())
    assert.equal(result.blocksFetched, 8, 'root + 7 leaves')
    assert.deepEqual((await c.ls()).map(p => p.cid.toString()), [added.cid.toString()])

    // C now serves it: with A gone, B fetches from C
    await a.stop()
    swarm.nodes.splice(0, 1)
    await c.discovery.provide(added.cid)
    const out2 = swarm.outputPath('copy2')
    const second = await b.get(added.cid, out2, { providerTimeout: 20_000 })
    assert.equal(await sha256File(out2), await sha256File(file))
    assert.deepEqual(second.peers.map(p => p.peerId), [c.peerId.toString()])
  })

  it('never serves a block that rotted on disk; the download completes once an honest copy appears', async () => {
    const a = await swarm.start()
    const c = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(c, 1)

    const file = await swarm.writeRandomFile('input', 3 * 1024 * 1024)
    // a private copy in the repo (the default refers to the file, and is checked in the references tests)
    const added = await a.add(file, { copy: true })
    await a.discovery.provide(added.cid)
    const [leaf] = await leavesOf(a, added.cid)
    const onDisk = a.repo.blocks.pathOf(leaf)
    const bytes = await fs.readFile(onDisk)
    bytes[0] ^= 0xff
    await fs.writeFile(onDisk, bytes)

    // A is the only holder: it answers "don't have" for the rotten leaf, so the get fails
    const out = swarm.outputPath('c-copy')
    await assert.rejects(c.get(added.cid, out, { providerTimeout: 3_000 }), { name: 'NoProvidersError' })
    await assert.rejects(fs.access(out), 'no output under the final name')
    assert.equal(await a.repo.blocks.has(leaf), false, 'A noticed the rot and dropped its copy')
    assert.equal(await c.repo.blocks.has(leaf), false)

    // an honest holder of the same bytes appears; the retry fetches only what is missing
    const b = await swarm.start({}, { bootstrapTo: [a, c] })
    const again = await b.add(file)
    assert.equal(again.cid.toString(), added.cid.toString())
    await b.discovery.provide(added.cid)
    const result = await c.get(added.cid, out, { providerTimeout: 20_000 })
    assert.equal(await sha256File(out), await sha256File(file))
    assert.equal(result.blocksFetched, 1, 'only the leaf A could not serve')
    assert.deepEqual(result.peers.map(p => p.peerId), [b.peerId.toString()])
  })

  it('drops a peer that sends bytes not matching the CID and completes from an honest one', async () => {
    const honest = await swarm.start()
    const liar = await swarm.start({}, { bootstrapTo: [honest] })
    const fetcher = await swarm.start({}, { bootstrapTo: [honest] })
    await routingTableHas(honest, 2)

    const file = await swarm.writeRandomFile('input', 4 * 1024 * 1024)
    const added = await honest.add(file)
    await honest.discovery.provide(added.cid)
    // the liar claims the root and answers every request with random bytes
    ;(liar.repo.blocks as any).get = async (cid: CID) => ({ cid, bytes: randomBytes(1024), verified: true })
    await liar.discovery.provide(added.cid)

    const out = swarm.outputPath('copy')
    const result = await fetcher.get(added.cid, out, { providerTimeout: 20_000 })
    assert.equal(await sha256File(out), await sha256File(file))
    assert.ok(result.peers.every(p => p.peerId !== liar.peerId.toString()), 'nothing from the liar was kept')
    for await (const { cid } of fetcher.repo.blocks.entries()) {
      await fetcher.repo.blocks.get(cid) // every stored block verifies
    }
  })

  it('bans a peer that claims blocks it does not serve, and completes from an honest one', async () => {
    const honest = await swarm.start()
    const liar = await swarm.start({}, { bootstrapTo: [honest] })
    const fetcher = await swarm.start({}, { bootstrapTo: [honest] })
    await routingTableHas(honest, 2)

    const file = await swarm.writeRandomFile('input', 32 * 1024 * 1024)
    const added = await honest.add(file)
    await honest.discovery.provide(added.cid)
    // the liar pins the same file, so it tells every swarm it is complete, then drops its leaves
    await liar.add(file, { copy: true })
    for (const leaf of await leavesOf(liar, added.cid)) await liar.repo.blocks.delete(leaf)
    await liar.discovery.provide(added.cid)

    const out = swarm.outputPath('copy')
    const result = await fetcher.get(added.cid, out, { providerTimeout: 20_000 })
    assert.equal(await sha256File(out), await sha256File(file))
    assert.ok(result.peers.some(p => p.peerId === honest.peerId.toString()))
    const ban = fetcher.bans.list().find(b => b.peer === liar.peerId.toString())
    assert.ok(ban != null, 'the liar is banned')
    assert.equal(ban.reason, 'claims blocks it does not serve')
  })

  it('two downloads of one root on one peer (a get beside a cat) ask the holder for each block once', async () => {
    const a = await swarm.start()
    const c = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(c, 1)
    const file = await swarm.writeRandomFile('input', 16 * 1024 * 1024)
    const added = await a.add(file)
    await a.discovery.provide(added.cid)
    const dagBlocks = 1 + (await leavesOf(a, added.cid)).length

    const out = swarm.outputPath('copy')
    const catting = (async () => {
      const chunks: Uint8Array[] = []
      for await (const chunk of c.cat(added.cid, { providerTimeout: 20_000 })) chunks.push(chunk)
      return Buffer.concat(chunks)
    })()
    const [got, catted] = await Promise.all([c.get(added.cid, out, { providerTimeout: 20_000 }), catting])
    assert.equal(await sha256File(out), await sha256File(file))
    assert.ok(catted.equals(await fs.readFile(file)), 'cat streamed the same bytes')
    const sent = a.exchange.ledger.total
    assert.equal(sent.blocksSent, dagBlocks, 'the holder sent every block once')
    assert.equal(c.exchange.ledger.total.blocksReceived, dagBlocks)
    assert.ok(got.blocksFetched + got.blocksShared + got.blocksAlreadyHeld >= dagBlocks, 'the get took in every block')
  })

  it('a download that joins the swarm of another download of the root fetches from the peers already in it, once the other one stops', async () => {
    // a slow holder: the first download is still running when the second starts
    const a = await swarm.start({ maxUploadRate: 4_000_000 })
    const b = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(b, 1)
    const file = await swarm.writeRandomFile('input', 16 * 1024 * 1024)
    const added = await a.add(file)
    await a.discovery.provide(added.cid)

    const first = new AbortController()
    const secondStarted = Promise.withResolvers<void>()
    const firstDone = b.get(added.cid, swarm.outputPath('first'), {
      signal: first.signal,
      onProgress: p => { if (p.peers > 0 && p.blocksDone > 0) secondStarted.resolve() }
    }).catch(err => err)
    await secondStarted.promise
    // the second takes the blocks the first stores until the first is stopped; then it must ask the holder itself
    const joined = Promise.withResolvers<void>()
    const out = swarm.outputPath('second')
    const second = b.get(added.cid, out, { providerTimeout: 15_000, onProgress: () => { joined.resolve() } })
    await joined.promise
    first.abort(new Error('first stopped'))
    assert.match((await firstDone).message, /first stopped/)
    await second
    assert.equal(await sha256File(out), await sha256File(file))
  })

  it('the block protocol is offered only while the exchange serves: stopped, a peer is told it is not supported; started again, it serves', async () => {
    const a = await swarm.start()
    const b = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(b, 1)
    const file = await swarm.writeRandomFile('input', 2 * 1024 * 1024)
    const added = await a.add(file)
    await a.discovery.provide(added.cid)
    const events = { onBlock: () => {}, onInvalidBlock: () => {}, onDontHave: () => {}, onClose: () => {} }
    await a.exchange.stop()
    await assert.rejects(b.libp2p.services.blocks.openChannel(a.peerId, events), { name: 'UnsupportedProtocolError' })
    await assert.rejects(b.libp2p.services.swarm.open(a.peerId, added.cid), { name: 'UnsupportedProtocolError' })
    await a.exchange.start()
    const out = swarm.outputPath('after-restart')
    await b.get(added.cid, out, { providerTimeout: 20_000 })
    assert.equal(await sha256File(out), await sha256File(file))
  })

  it('resumes an interrupted download without fetching stored blocks again', async () => {
    const a = await swarm.start()
    const b = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(b, 1)
    const file = await swarm.writeRandomFile('input', 40 * 1024 * 1024)
    const added = await a.add(file)
    await a.discovery.provide(added.cid)

    const controller = new AbortController()
    let done = 0
    const out = swarm.outputPath('partial')
    await assert.rejects(b.get(added.cid, out, {
      signal: controller.signal,
      onProgress: p => { done = p.blocksDone; if (p.blocksDone >= 5) controller.abort(new Error('stop halfway')) }
    }), /stop halfway/)
    await assert.rejects(fs.access(out), 'no output under the final name')
    await fs.access(`${out}.part`)
    assert.ok(done >= 5 && done < 41, `partly downloaded (${done} blocks)`)

    const second = await b.get(added.cid, out)
    assert.equal(await sha256File(out), await sha256File(file))
    await assert.rejects(fs.access(`${out}.part`), 'the .part became the output')
    assert.ok(second.blocksAlreadyHeld >= 5, `resumed with ${second.blocksAlreadyHeld} blocks held`)
    assert.equal(second.blocksFetched + second.blocksAlreadyHeld, 41, 'root + 40 leaves, each fetched once')
    assert.equal(b.repo.blocks.stats().blocks, 1, 'only the root is in the block store: the leaves are in the output')
  })

  it('gc keeps pinned content and removes unpinned content', async () => {
    const a = await swarm.start()
    const keep = await a.add(await swarm.writeRandomFile('keep', 2 * 1024 * 1024 + 1), { copy: true })
    const drop = await a.add(await swarm.writeRandomFile('drop', 3 * 1024 * 1024 + 1), { copy: true })
    await a.rm(drop.cid)
    await assert.rejects(a.rm(drop.cid), { name: 'InputError' })
    const removed = await a.gc()
    assert.equal(removed.blocks, 5, 'the dropped root and its 4 leaves')
    const entry = await exporter(keep.cid, a.repo.blocks.exporterStore())
    assert.equal(entry.type, 'file')
    assert.equal(a.repo.blocks.stats().blocks, 4)
  })
})
