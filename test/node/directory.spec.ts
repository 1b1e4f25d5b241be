import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { checkEntryName } from '../../src/node/export-path.js'
import { TestSwarm, routingTableHas } from '../helpers/nodes.js'

async function tree (root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`
      if (e.isDirectory()) {
        out[r + '/'] = 'dir'
        await walk(path.join(dir, e.name), r)
      } else {
        out[r] = (await fs.readFile(path.join(dir, e.name))).toString('base64')
      }
    }
  }
  await walk(root, '')
  return out
}

describe('node: directories and cat', function () {
  this.timeout(60_000)
  const swarm = new TestSwarm()
  after(async () => { await swarm.stopAll() })

  it('shares a directory tree with -r and fetches it whole; cat streams a file', async () => {
    const a = await swarm.start()
    const b = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(b, 1)

    const src = swarm.outputPath('photos')
    await fs.mkdir(path.join(src, '2026', 'empty'), { recursive: true })
    await fs.writeFile(path.join(src, 'readme.txt'), 'hello\n')
    await fs.writeFile(path.join(src, '2026', 'big.bin'), randomBytes(2 * 1024 * 1024 + 5))
    await fs.writeFile(path.join(src, '2026', 'small.bin'), randomBytes(10))
    await fs.symlink('/etc/passwd', path.join(src, 'link'))

    await assert.rejects(a.add(src), { name: 'InputError' })
    const added = await a.add(src, { recursive: true })
    assert.equal(added.type, 'directory')
    assert.equal(added.size, 6 + 2 * 1024 * 1024 + 5 + 10)
    await a.discovery.provide(added.cid)

    const out = swarm.outputPath('copy')
    const got = await b.get(added.cid, out)
    assert.equal(got.type, 'directory')
    const expected = await tree(src)
    delete expected.link // symbolic links are not followed or shared
    assert.deepEqual(await tree(out), expected)

    const readme = (await a.ls()).find(p => p.type === 'directory')
    assert.equal(readme?.name, 'photos')

    await assert.rejects(async () => { for await (const _ of b.cat(added.cid)) {} }, { name: 'NotAFileError' })
    // a multi-block file that b does not hold yet: cat streams it while it downloads
    const big = await swarm.writeRandomFile('big-for-cat', 5 * 1024 * 1024 + 3)
    const file = await a.add(big)
    await a.discovery.provide(file.cid)
    const chunks: Uint8Array[] = []
    for await (const chunk of b.cat(file.cid)) chunks.push(chunk)
    assert.deepEqual(Buffer.concat(chunks), await fs.readFile(big))
    assert.equal(await b.repo.pins.isPinned(file.cid), false, 'cat pins nothing')
  })

  it('refuses directory entry names that would escape the output folder', () => {
    for (const bad of ['..', '.', '', 'a/b', '../etc', '/abs', 'a\\b', 'nul\0']) {
      assert.throws(() => { checkEntryName(bad) }, { name: 'InputError' }, JSON.stringify(bad))
    }
    checkEntryName('fine name.txt')
  })
})
