import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { TestSwarm, routingTableHas } from '../helpers/nodes.js'

const MiB = 1024 * 1024

async function bytesOf (content: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of content) parts.push(part)
  return Buffer.concat(parts)
}

describe('node: paths inside a root (CID/dir/file)', function () {
  this.timeout(120_000)
  const swarm = new TestSwarm()

  afterEach(async () => {
    await swarm.stopAll()
  })

  it('get and cat of CID/dir/file fetch only the blocks on that path and under it', async () => {
    const a = await swarm.start()
    const b = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(b, 1)
    const tree = path.join(path.dirname(await swarm.writeRandomFile('seed', 1)), 'tree')
    await fs.mkdir(path.join(tree, 'docs', 'deep'), { recursive: true })
    const wanted = randomBytes(2 * MiB + 17)
    await fs.writeFile(path.join(tree, 'docs', 'deep', 'wanted.bin'), wanted)
    await fs.writeFile(path.join(tree, 'docs', 'sibling.bin'), randomBytes(3 * MiB))
    await fs.writeFile(path.join(tree, 'big.bin'), randomBytes(4 * MiB))
    const added = await a.add(tree, { recursive: true })
    await a.discovery.provide(added.cid)
    const sibling = (await a.resolve(added.cid, { path: ['docs', 'sibling.bin'] })).cid
    const big = (await a.resolve(added.cid, { path: ['big.bin'] })).cid

    const outDir = path.dirname(swarm.outputPath('x'))
    const result = await b.get(added.cid, outDir, { path: ['docs', 'deep', 'wanted.bin'], providerTimeout: 20_000 })
    assert.equal(result.output, path.join(outDir, 'wanted.bin'), 'named after the path in a folder')
    assert.deepEqual(await fs.readFile(result.output), wanted)
    assert.equal(result.blocksFetched, 3, 'its three leaves (the path and the file node came while resolving it)')
    for (const other of [sibling, big]) assert.equal(await b.repo.blocks.has(other), false, 'no block of another file')
    // it is pinned under its own name, and served on
    const pins = await b.ls()
    assert.deepEqual(pins.map(p => [p.cid.toString(), p.name]), [[result.root.toString(), 'wanted.bin']])

    const c = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(c, 1)
    const catted = await bytesOf(c.cat(added.cid, { path: ['docs', 'deep', 'wanted.bin'], providerTimeout: 20_000 }))
    assert.deepEqual(catted, wanted)
    assert.equal(await c.repo.blocks.has(big), false)
    const range = await bytesOf(c.cat(added.cid, { path: ['docs', 'sibling.bin'], range: { from: MiB + 5, to: MiB + 15 } }))
    assert.equal(range.length, 10)
    assert.deepEqual(range, (await fs.readFile(path.join(tree, 'docs', 'sibling.bin'))).subarray(MiB + 5, MiB + 15))
  })

  it('a name that is not there is a NotFoundError, and ".." is refused', async () => {
    const a = await swarm.start()
    const tree = path.join(path.dirname(await swarm.writeRandomFile('seed', 1)), 'tree')
    await fs.mkdir(tree, { recursive: true })
    await fs.writeFile(path.join(tree, 'a.txt'), 'a')
    const added = await a.add(tree, { recursive: true })
    await assert.rejects(a.resolve(added.cid, { path: ['b.txt'] }), { name: 'NotFoundError' })
    await assert.rejects(a.resolve(added.cid, { path: ['..', 'x'] }), { name: 'InputError' })
    await assert.rejects(async () => { for await (const _ of a.cat(added.cid, { path: ['a.txt', 'x'] })) { /* nothing */ } }, (err: any) => err.name === 'NotFoundError' || err.name === 'InputError')
  })
})
