import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { readFileContent } from '../../src/content/file-reader.js'
import type { CID } from 'multiformats/cid'

async function importBytes (bytes: Uint8Array, options: Record<string, unknown>): Promise<{ root: CID, store: MemoryBlockstore }> {
  const store = new MemoryBlockstore()
  let root: CID | undefined
  for await (const entry of importer([{ content: bytes }], store, options)) root = entry.cid
  return { root: root!, store }
}

async function read (root: CID, store: MemoryBlockstore, readAhead?: number): Promise<Buffer> {
  const get = async (cid: CID): Promise<Uint8Array> => {
    const chunks: Uint8Array[] = []
    for await (const c of store.get(cid)) chunks.push(c)
    return Buffer.concat(chunks)
  }
  const out: Uint8Array[] = []
  for await (const chunk of readFileContent(root, get, { readAhead })) out.push(chunk)
  return Buffer.concat(out)
}

describe('content: file reader', () => {
  it('reads raw-leaf DAGs of several levels in order', async () => {
    const bytes = randomBytes(1024 * 300 + 5)
    const { root, store } = await importBytes(bytes, { profile: 'unixfs-v1-2025', chunker: fixedSize({ chunkSize: 1024 }) })
    assert.deepEqual(await read(root, store, 3), bytes)
  })

  it('reads DAGs whose leaves are dag-pb nodes carrying data (older profile)', async () => {
    const bytes = randomBytes(256 * 1024 * 3 + 17)
    const { root, store } = await importBytes(bytes, { profile: 'unixfs-v0-2015' })
    assert.deepEqual(await read(root, store), bytes)
  })

  it('reads a single-block file', async () => {
    const bytes = randomBytes(100)
    const { root, store } = await importBytes(bytes, { profile: 'unixfs-v1-2025' })
    assert.deepEqual(await read(root, store), bytes)
  })

  it('never has more than readAhead reads outstanding', async () => {
    const bytes = randomBytes(1024 * 64)
    const { root, store } = await importBytes(bytes, { profile: 'unixfs-v1-2025', chunker: fixedSize({ chunkSize: 1024 }) })
    let outstanding = 0
    let most = 0
    const get = async (cid: CID): Promise<Uint8Array> => {
      outstanding++
      most = Math.max(most, outstanding)
      const chunks: Uint8Array[] = []
      for await (const c of store.get(cid)) chunks.push(c)
      await new Promise(resolve => setImmediate(resolve))
      outstanding--
      return Buffer.concat(chunks)
    }
    const reader = readFileContent(root, get, { readAhead: 4 })
    for await (const _ of reader) await new Promise(resolve => setTimeout(resolve, 1))
    assert.ok(most <= 5, `at most readAhead leaves (+ the interior node being walked) at once: ${most}`)
  })
})
