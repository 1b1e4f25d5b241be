import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { files, sha256File, shoalOk, useDaemons } from '../helpers/cli.js'
import { referenceRootCID } from '../helpers/reference-dag.js'

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures')

describe('cli: files and directories from the fixtures', function () {
  this.timeout(120_000)
  const scope = useDaemons()

  it('adds a file and a directory tree on one peer and gets them whole on another', async () => {
    const dir = scope.dir
    const a = await scope.start('a')
    await scope.start('b', ['--bootstrap', a.addresses[0]])

    const hello = path.join(FIXTURES, 'hello.txt')
    const file = JSON.parse((await shoalOk(['add', '--repo', path.join(dir, 'a'), hello, '--json'])).stdout)
    assert.equal(file.cid, referenceRootCID(await fs.readFile(hello), 1024 * 1024).toString())

    const tree = JSON.parse((await shoalOk(['add', '--repo', path.join(dir, 'a'), '-r', path.join(FIXTURES, 'tree'), '--json'])).stdout)
    assert.equal(tree.kind, 'directory')

    const out = path.join(dir, 'tree-copy')
    await shoalOk(['get', '--repo', path.join(dir, 'b'), tree.cid, '-o', out, '--timeout', '30'])
    assert.deepEqual(await files(out), await files(path.join(FIXTURES, 'tree')))
    for (const f of (await files(out)).filter(f => !f.endsWith('/'))) {
      assert.equal(await sha256File(path.join(out, f)), await sha256File(path.join(FIXTURES, 'tree', f)), f)
    }
  })
})
