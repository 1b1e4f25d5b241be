import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { verifyBlock } from '../../src/content/verify.js'
import { checkEntryName } from '../../src/node/export-path.js'
import type { ShoalNode } from '../../src/node/shoal-node.js'
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

    await assert.rejects(async () => { for await (const _ of b.cat(added.cid)) { /* drain */ } }, { name: 'NotAFileError' })
    // a multi-block file that b does not hold yet: cat streams it while it downloads
    const big = await swarm.writeRandomFile('big-for-cat', 5 * 1024 * 1024 + 3)
    const file = await a.add(big)
    await a.discovery.provide(file.cid)
    const chunks: Uint8Array[] = []
    for await (const chunk of b.cat(file.cid)) chunks.push(chunk)
    assert.deepEqual(Buffer.concat(chunks), await fs.readFile(big))
    assert.equal(await b.repo.pins.isPinned(file.cid), false, 'cat pins nothing')
  })

  it('a shared directory from the network that names "..", an absolute path or a symbolic link is refused on get; nothing is written', async () => {
    const a = await swarm.start()
    const b = await swarm.start({}, { bootstrapTo: [a] })
    await routingTableHas(b, 1)
    // hand-made DAGs, stored on a as a hostile peer would serve them
    const store = async (node: ShoalNode, cid: CID, bytes: Uint8Array): Promise<CID> => {
      await node.repo.blocks.put(verifyBlock(cid, bytes))
      return cid
    }
    const leafBytes = new TextEncoder().encode('owned\n')
    const leaf = await store(a, CID.createV1(raw.code, await sha256.digest(leafBytes)), leafBytes)
    const dagNode = async (unixfs: UnixFS, links: Array<{ name: string, cid: CID }>): Promise<CID> => {
      const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: links.map(l => ({ Name: l.name, Hash: l.cid, Tsize: 6 })) }))
      return await store(a, CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes)
    }
    const link = await dagNode(new UnixFS({ type: 'symlink', data: new TextEncoder().encode('/etc/passwd') }), [])
    const cases: Array<[string, CID]> = [
      ['..', await dagNode(new UnixFS({ type: 'directory' }), [{ name: 'fine', cid: leaf }, { name: '..', cid: leaf }])],
      ['../escape', await dagNode(new UnixFS({ type: 'directory' }), [{ name: '../escape', cid: leaf }])],
      ['/tmp/abs', await dagNode(new UnixFS({ type: 'directory' }), [{ name: '/tmp/abs', cid: leaf }])],
      ['link', await dagNode(new UnixFS({ type: 'directory' }), [{ name: 'link', cid: link }])]
    ]
    const parent = swarm.outputPath('hostile-out')
    await fs.mkdir(parent)
    for (const [name, root] of cases) {
      // pinned on a, so it seeds them whole
      await a.repo.pins.pin({ cid: root, name, size: 6, type: 'directory', created: Date.now() }, 'user')
      await a.discovery.provide(root)
      await assert.rejects(b.get(root, path.join(parent, 'tree')), (err: Error) => {
        assert.equal(err.name, 'InputError')
        assert.ok(err.message.includes(JSON.stringify(name)), err.message)
        return true
      })
      assert.deepEqual(await fs.readdir(parent), [], `nothing written for ${name}`)
    }
    await assert.rejects(fs.access(path.join(path.dirname(parent), 'escape')))
  })

  it('refuses directory entry names that would escape the output folder', () => {
    for (const bad of ['..', '.', '', 'a/b', '../etc', '/abs', 'a\\b', 'nul\0']) {
      assert.throws(() => { checkEntryName(bad) }, { name: 'InputError' }, JSON.stringify(bad))
    }
    checkEntryName('fine name.txt')
  })
})
