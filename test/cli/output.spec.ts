import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { shoal, shoalOk, useDaemons } from '../helpers/cli.js'

/** Where `get -o` writes, and what it never touches. */
describe('cli: get -o never loses what is already there', function () {
  this.timeout(120_000)
  const scope = useDaemons()
  let repo: string
  let cid: string

  before(async () => {
    repo = scope.repo('a')
    await scope.start('a')
    const input = path.join(scope.dir, 'small')
    await fs.writeFile(input, 'hello shoal\n')
    cid = JSON.parse((await shoalOk(['add', '--repo', repo, input, '--json'])).stdout).cid
  })

  it('-o naming an existing folder saves into it as FOLDER/CID, --force or not, and keeps everything in it', async () => {
    const important = path.join(scope.dir, 'important')
    await fs.mkdir(path.join(important, 'sub'), { recursive: true })
    await fs.writeFile(path.join(important, 'thesis.txt'), 'years of work')
    await fs.writeFile(path.join(important, 'sub', 'notes.txt'), 'more work')

    const r = await shoalOk(['get', cid, '-o', important, '--force', '--repo', repo, '--json'])
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!)
    assert.equal(summary.output, path.join(important, cid))
    assert.equal(await fs.readFile(path.join(important, cid), 'utf8'), 'hello shoal\n')
    assert.equal(await fs.readFile(path.join(important, 'thesis.txt'), 'utf8'), 'years of work')
    assert.equal(await fs.readFile(path.join(important, 'sub', 'notes.txt'), 'utf8'), 'more work')

    // again: the file of the same name needs --force, and then is replaced
    const again = await shoal(['get', cid, '-o', important, '--repo', repo])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already exists \(use --force/)
    await fs.writeFile(path.join(important, cid), 'stale')
    await shoalOk(['get', cid, '-o', important, '--force', '--repo', repo])
    assert.equal(await fs.readFile(path.join(important, cid), 'utf8'), 'hello shoal\n')
    assert.deepEqual((await fs.readdir(important)).sort(), [cid, 'sub', 'thesis.txt'].sort())
  })

  it('--force never replaces a directory: exit 2, its contents untouched', async () => {
    const parent = path.join(scope.dir, 'parent')
    const clash = path.join(parent, cid)
    await fs.mkdir(clash, { recursive: true })
    await fs.writeFile(path.join(clash, 'keep.txt'), 'keep')
    const r = await shoal(['get', cid, '-o', parent, '--force', '--repo', repo])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /is a directory; Shoal never replaces a directory/)
    assert.equal(await fs.readFile(path.join(clash, 'keep.txt'), 'utf8'), 'keep')
  })

  it('without -o the file lands in the current folder as ./CID', async () => {
    const cwd = path.join(scope.dir, 'cwd')
    await fs.mkdir(cwd)
    await shoalOk(['get', cid, '--repo', repo], { cwd })
    assert.equal(await fs.readFile(path.join(cwd, cid), 'utf8'), 'hello shoal\n')
  })

  it('an output in a folder that does not exist says so', async () => {
    const r = await shoal(['get', cid, '-o', path.join(scope.dir, 'no-such-folder', 'out'), '--repo', repo])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /folder .*no-such-folder does not exist/)
    assert.doesNotMatch(r.stderr, /ENOENT/)
  })
})
