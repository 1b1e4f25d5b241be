import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { unixfs } from '@helia/unixfs'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { importPath } from '../../src/node/import-path.js'
import { BlockStore } from '../../src/store/block-store.js'
import { tempDir } from '../helpers/cli.js'
import { referenceRootCID } from '../helpers/reference-dag.js'

/**
 * Shoal's root CIDs must equal those of other implementations for the same
 * bytes and chunk size: Helia's @helia/unixfs (its defaults are the
 * unixfs-v1-2025 profile) and a from-the-spec derivation.
 */
describe('content: CIDs follow the unixfs-v1-2025 profile', function () {
  this.timeout(120_000)
  let dir: string
  let store: BlockStore

  before(async () => {
    dir = await tempDir()
    store = new BlockStore(path.join(dir, 'blocks'))
    await store.open()
  })

  after(async () => {
    await fs.rm(dir, { recursive: true, force: true })
  })

  async function shoalCID (bytes: Uint8Array, chunkSize?: number): Promise<string> {
    const file = path.join(dir, `input-${bytes.length}-${chunkSize ?? 'default'}`)
    await fs.writeFile(file, bytes)
    const result = await importPath(store, file, { chunkSize })
    return result.cid.toString()
  }

  async function heliaCID (bytes: Uint8Array, chunkSize?: number): Promise<string> {
    const fs = unixfs({ blockstore: new MemoryBlockstore() })
    const cid = await fs.addBytes(bytes, chunkSize == null ? {} : { chunker: fixedSize({ chunkSize }) })
    return cid.toString()
  }

  it('a single-chunk file is one raw block, same CID as Helia and the spec', async () => {
    const bytes = randomBytes(300 * 1024)
    const cid = await shoalCID(bytes)
    assert.match(cid, /^bafkrei/, 'a raw-leaf CIDv1')
    assert.equal(cid, await heliaCID(bytes))
    assert.equal(cid, referenceRootCID(bytes, 1024 * 1024).toString())
  })

  it('a one-level file (several 1 MiB chunks under one root) matches Helia and the spec', async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 12345)
    const cid = await shoalCID(bytes)
    assert.match(cid, /^bafybei/, 'a dag-pb CIDv1 root')
    assert.equal(cid, await heliaCID(bytes))
    assert.equal(cid, referenceRootCID(bytes, 1024 * 1024).toString())
  })

  it('a file of more than 1024 chunks (two levels) matches Helia and the spec', async () => {
    const chunkSize = 1024
    const bytes = randomBytes(chunkSize * 2050 + 77) // 2051 leaves: a root over three interior nodes
    const cid = await shoalCID(bytes, chunkSize)
    assert.equal(cid, await heliaCID(bytes, chunkSize))
    assert.equal(cid, referenceRootCID(bytes, chunkSize).toString())
  })

  it('different bytes give a different CID', async () => {
    const a = randomBytes(4096)
    const b = Uint8Array.from(a)
    b[100] ^= 1
    assert.notEqual(await shoalCID(a), await shoalCID(b))
  })
})
