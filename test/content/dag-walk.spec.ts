import assert from 'node:assert/strict'
import { countDagBlocks } from '../../src/content/dag-shape.js'
import { blockKey } from '../../src/content/dag.js'
import { walkDag } from '../../src/content/dag-walk.js'
import { DagLimitError } from '../../src/errors.js'
import { dagBomb } from '../helpers/dag-bomb.js'
import type { CID } from 'multiformats/cid'

describe('content: the bounded DAG walk', () => {
  const bomb = dagBomb(4, 1000)
  const byKey = new Map(bomb.blocks.map(b => [blockKey(b.cid), b.bytes]))
  const load = async (cid: CID): Promise<Uint8Array | undefined> => byKey.get(blockKey(cid))

  it('counts the blocks a full walk of a DAG bomb would meet from five reads, and refuses it', async () => {
    const reads: string[] = []
    const counting = async (cid: CID): Promise<Uint8Array | undefined> => { reads.push(cid.toString()); return await load(cid) }
    const small = dagBomb(2, 1000)
    const smallLoad = async (cid: CID): Promise<Uint8Array | undefined> => new Map(small.blocks.map(b => [blockKey(b.cid), b.bytes])).get(blockKey(cid))
    assert.equal(await countDagBlocks(small.root, smallLoad), 1 + 1000 + 1000 * 1000)
    const started = process.hrtime.bigint()
    await assert.rejects(countDagBlocks(bomb.root, counting), DagLimitError)
    assert.ok(reads.length <= 4, `each interior node read once (${reads.length} reads)`)
    assert.ok(process.hrtime.bigint() - started < 1_000_000_000n)
  })

  it('a walk following every link stops at the bound; a unique walk meets each block once', async () => {
    let met = 0
    await assert.rejects((async () => {
      for await (const _ of walkDag([bomb.root], load, { limits: { maxBlocks: 50_000 } })) met++
    })(), DagLimitError)
    assert.equal(met, 50_000)
    const unique: string[] = []
    for await (const step of walkDag([bomb.root], load, { unique: true })) unique.push(step.cid.toString())
    assert.deepEqual(unique, bomb.blocks.map(b => b.cid.toString()))
  })

  it('refuses a DAG deeper than the bound', async () => {
    const deep = dagBomb(6, 2)
    const deepLoad = async (cid: CID): Promise<Uint8Array | undefined> => new Map(deep.blocks.map(b => [blockKey(b.cid), b.bytes])).get(blockKey(cid))
    await assert.rejects(countDagBlocks(deep.root, deepLoad, { maxDepth: 4 }), DagLimitError)
    await assert.rejects((async () => { for await (const _ of walkDag([deep.root], deepLoad, { unique: true, limits: { maxDepth: 4 } })) { /* walk */ } })(), DagLimitError)
    assert.equal(await countDagBlocks(deep.root, deepLoad, { maxDepth: 6 }), 2 ** 7 - 1)
  })
})
