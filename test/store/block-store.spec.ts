import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { blockKey } from '../../src/content/dag.js'
import { verifyBlock } from '../../src/content/verify.js'
import { BlockStore } from '../../src/store/block-store.js'
import { tempDir } from '../helpers/cli.js'

async function makeBlock (size = 4096): Promise<ReturnType<typeof verifyBlock>> {
  const bytes = randomBytes(size)
  return verifyBlock(CID.createV1(raw.code, await sha256.digest(bytes)), bytes)
}

describe('store: BlockStore', () => {
  let dir: string
  let store: BlockStore

  beforeEach(async () => {
    dir = await tempDir()
    store = new BlockStore(path.join(dir, 'blocks'))
    await store.open()
  })

  afterEach(async () => {
    await store.close()
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('stores a verified block and reads it back verified', async () => {
    const block = await makeBlock()
    assert.equal(await store.has(block.cid), false)
    await store.put(block)
    assert.equal(await store.has(block.cid), true)
    const back = await store.get(block.cid)
    assert.deepEqual(back.bytes, block.bytes)
  })

  it('reports a missing block with a typed error', async () => {
    const block = await makeBlock()
    await assert.rejects(store.get(block.cid), { name: 'BlockNotFoundError' })
  })

  it('never returns a block that rotted on disk: it is detected and removed', async () => {
    const block = await makeBlock()
    await store.put(block)
    const file = store.pathOf(block.cid)
    const bytes = await fs.readFile(file)
    bytes[10] ^= 0x01
    await fs.writeFile(file, bytes)
    await assert.rejects(store.get(block.cid), { name: 'BlockVerificationError' })
    assert.equal(await store.has(block.cid), false, 'the corrupt copy is gone, so it can be fetched again')
  })

  it('the importer adapter refuses bytes that do not match the CID', async () => {
    const block = await makeBlock()
    const wrong = randomBytes(4096)
    await assert.rejects(store.importerStore().put(block.cid, wrong), { name: 'BlockVerificationError' })
    assert.equal(await store.has(block.cid), false)
  })

  it('lists blocks and counts their bytes', async () => {
    const blocks = [await makeBlock(100), await makeBlock(200), await makeBlock(300)]
    for (const b of blocks) await store.put(b)
    const listed = new Set<string>()
    for await (const e of store.entries()) listed.add(blockKey(e.cid))
    assert.deepEqual(listed, new Set(blocks.map(b => blockKey(b.cid))))
    assert.deepEqual(await store.stats(), { blocks: 3, bytes: 600 })
  })

  it('keeps its counts through concurrent puts, deletes, rot and a sweep, and counts again when reopened', async () => {
    const [a, b, c, d] = [await makeBlock(100), await makeBlock(200), await makeBlock(300), await makeBlock(400)]
    await Promise.all([store.put(a), store.put(a), store.put(a), store.put(b)])
    assert.deepEqual(await store.stats(), { blocks: 2, bytes: 300 }, 'a block put three times at once is one block')
    await store.put(c)
    await store.put(d)
    await store.delete(b.cid)
    await store.delete(b.cid)
    assert.deepEqual(await store.stats(), { blocks: 3, bytes: 800 }, 'a delete of what is gone changes nothing')
    const file = store.pathOf(c.cid)
    const bytes = await fs.readFile(file)
    bytes[0] ^= 0x01
    await fs.writeFile(file, bytes)
    await assert.rejects(store.get(c.cid), { name: 'BlockVerificationError' })
    assert.deepEqual(await store.stats(), { blocks: 2, bytes: 500 }, 'a rotten block removed is no longer counted')
    await store.sweep(async () => key => key === blockKey(a.cid))
    assert.deepEqual(await store.stats(), { blocks: 1, bytes: 100 })
    await store.close()
    store = new BlockStore(path.join(dir, 'blocks'))
    await store.open()
    assert.deepEqual(await store.stats(), { blocks: 1, bytes: 100 }, 'reopened, it counts what is on disk')
  })
  it('a sweep deletes what is not kept and spares blocks written while it decides', async () => {
    const [kept, garbage, early, late] = [await makeBlock(), await makeBlock(), await makeBlock(), await makeBlock()]
    for (const b of [kept, garbage]) await store.put(b)
    // a put already under way when the sweep begins, and one that starts while the keep set is computed
    const inFlight = store.put(early)
    let latePut: Promise<boolean> | undefined
    const result = await store.sweep(async () => {
      latePut = store.put(late)
      await inFlight
      await latePut
      return key => key === blockKey(kept.cid)
    })
    assert.deepEqual(result, { blocks: 1, bytes: 4096 })
    assert.equal(await store.has(kept.cid), true)
    assert.equal(await store.has(garbage.cid), false)
    assert.equal(await store.has(early.cid), true, 'a write in flight when the sweep began survives it')
    assert.equal(await store.has(late.cid), true, 'a write made while the keep set was computed survives it')
  })

  it('a block stored again while a sweep deletes it ends up stored', async () => {
    const block = await makeBlock()
    await store.put(block)
    // a slow disk: the delete lands well after the second put has looked for the file
    const backend = (store as any).fs
    const unlink = backend.delete.bind(backend)
    backend.delete = async (...args: unknown[]) => {
      await new Promise(resolve => setTimeout(resolve, 50))
      return unlink(...args)
    }
    let again: Promise<boolean> | undefined
    await store.sweep(async () => key => {
      // runs right after the sweep has marked this block for deletion
      queueMicrotask(() => { again = store.put(block) })
      return false
    })
    assert.ok(again != null)
    await again
    assert.equal(await store.has(block.cid), true)
    assert.deepEqual((await store.get(block.cid)).bytes, block.bytes)
  })
})
