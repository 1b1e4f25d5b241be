import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { sha256File } from '../helpers/cli.js'
import { TestSwarm, routingTableHas } from '../helpers/nodes.js'

const MiB = 1024 * 1024

describe('node: leaves held by reference', function () {
  this.timeout(60_000)
  const swarm = new TestSwarm()
  afterEach(async () => { await swarm.stopAll() })

  for (const size of [1 * MiB, 3 * MiB + 7]) {
    it(`an output its user deleted is not taken for held: the next get fetches again (${size} bytes)`, async () => {
      const a = await swarm.start()
      const b = await swarm.start({}, { bootstrapTo: [a] })
      await routingTableHas(b, 1)
      const file = await swarm.writeRandomFile('input', size)
      const added = await a.add(file)
      await a.discovery.provide(added.cid)
      for (const name of ['one', 'two', 'three']) {
        const out = swarm.outputPath(name)
        const got = await b.get(added.cid, out, { pin: false, providerTimeout: 10_000 })
        assert.equal(await sha256File(out), await sha256File(file))
        assert.equal(got.blocksFetched + got.blocksAlreadyHeld, Math.ceil(size / MiB) + (size > MiB ? 1 : 0))
        await fs.rm(out)
      }
    })
  }

  it('a leaf of a file whose bytes changed is not served, and the file is marked modified', async () => {
    const a = await swarm.start()
    const file = await swarm.writeRandomFile('input', 2 * MiB)
    const added = await a.add(file)
    const bytes = await fs.readFile(file)
    bytes[10] ^= 1
    await fs.writeFile(file, bytes)
    await assert.rejects(a.repo.blocks.get(added.cid).then(async b => await Promise.all((await import('../../src/content/dag.js')).childLinks(added.cid, b.bytes).map(async c => await a.repo.blocks.get(c)))), { name: 'BlockNotFoundError' })
    assert.equal((await a.ls())[0].state, 'modified')
    assert.equal(await sha256File(file), (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'), 'the file is left as its owner made it')
  })
})
