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
})
