import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import { MemoryDatastore } from 'datastore-core'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { RefStore } from '../../src/store/refs/ref-store.js'
import { VerifiedLeaves } from '../../src/store/refs/verified-leaves.js'
import type { FileIdentity } from '../../src/store/refs/verified-leaves.js'

const old: FileIdentity = { ino: 7, size: 4096, mtimeMs: 1_000, ctimeMs: 1_000 }

describe('store: verified leaves of referenced files', () => {
  const at = 100_000

  it('a leaf verified in a file that had not changed for a while is trusted while the file stays as it was', () => {
    const leaves = new VerifiedLeaves()
    leaves.record('f', 0, 1024, old, at)
    assert.ok(leaves.holds('f', 0, 1024, old, at))
    assert.ok(!leaves.holds('f', 1024, 1024, old, at), 'another leaf was never verified')
    assert.ok(!leaves.holds('f', 0, 512, old, at), 'the same offset, another length: another leaf')
    assert.ok(!leaves.holds('g', 0, 1024, old, at), 'another file')
    // any write moves ctime; a rename to another inode, a truncation: all forget the file
    for (const changed of [{ ctimeMs: 61_000 }, { ino: 8 }, { size: 100 }, { mtimeMs: 2_000 }]) {
      leaves.record('f', 0, 1024, old, at)
      assert.ok(!leaves.holds('f', 0, 1024, { ...old, ...changed }, at), JSON.stringify(changed))
      assert.ok(!leaves.holds('f', 0, 1024, old, at), 'forgotten once seen changed')
    }
  })

  it('a file whose times moved shortly before the stat ahead of a read is never trusted (it may still be being written)', () => {
    const leaves = new VerifiedLeaves({ unchangedFor: 60_000 })
    leaves.record('f', 0, 1024, { ...old, ctimeMs: at - 59_000 }, at)
    leaves.record('f', 0, 1024, { ...old, mtimeMs: at - 1_000, ctimeMs: at - 1_000 }, at)
    assert.equal(leaves.size, 0)
  })

  it('what was learnt of a file is trusted for a while only: then each leaf is hashed again', () => {
    const leaves = new VerifiedLeaves({ trustedFor: 600_000 })
    leaves.record('f', 0, 1024, old, at)
    assert.ok(leaves.holds('f', 0, 1024, old, at + 599_000))
    assert.ok(!leaves.holds('f', 0, 1024, old, at + 601_000))
    assert.equal(leaves.size, 0)
  })

  it('what it remembers is bounded', () => {
    const leaves = new VerifiedLeaves({ max: 100 })
    for (let i = 0; i < 1000; i++) leaves.record(`f${i % 7}`, i * 1024, 1024, old, at)
    assert.ok(leaves.size <= 100 && leaves.size > 0, String(leaves.size))
    leaves.forget('f1')
    assert.ok(leaves.size <= 100 && leaves.size >= 0)
  })

  it('the reference store hashes a leaf of an unchanged file once, and again after the file is changed in place with its time put back', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shoal-verified-'))
    try {
      const file = path.join(dir, 'shared')
      const leaf = randomBytes(64 * 1024)
      await fs.writeFile(file, leaf)
      const cid = CID.createV1(raw.code, await sha256.digest(leaf))
      // the store trusts files unchanged for 0 ms: the test need not wait out the clock
      const refs = new RefStore(new MemoryDatastore(), defaultLogger().forComponent('test'), { verifiedLeaves: { unchangedFor: 0 } })
      await refs.open()
      const record = await refs.addFile(file, { owned: false, complete: true, roots: [cid] })
      await refs.put(cid, record, 0, leaf.byteLength)
      for (let i = 0; i < 5; i++) assert.deepEqual(Buffer.from((await refs.read(cid)).bytes), leaf)
      assert.deepEqual(refs.reads, { verified: 1, trusted: 4 })

      // the same size, another byte, and the modification time restored: only ctime tells
      const { mtime, ctimeMs } = await fs.stat(file)
      const changed = Buffer.from(leaf)
      changed[100] ^= 1
      // written until the file system's clock has moved on from the last ctime (a tick is a few ms)
      while ((await fs.stat(file)).ctimeMs === ctimeMs) {
        await fs.writeFile(file, changed)
        await fs.utimes(file, mtime, mtime)
      }
      await assert.rejects(refs.read(cid), { name: 'BlockNotFoundError' })
      assert.equal(refs.reads.trusted, 4, 'the changed leaf was hashed, not trusted')
      assert.equal(refs.get(record.id)?.state, 'modified')
      await refs.close()
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
