import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DaemonProcess, sha256File, shoal, shoalJson, shoalOk, summaryOf, until, useDaemons } from '../helpers/cli.js'
import type { DaemonScope } from '../helpers/cli.js'

const MiB = 1024 * 1024

/** Bytes a folder tree holds on disk (what `du` counts, in bytes of content). */
async function treeBytes (dir: string): Promise<number> {
  let n = 0
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await fs.stat(path.join(e.parentPath, e.name))).size
  }
  return n
}

const json = shoalJson

/**
 * Files are shared where they are: `add` and `get` leave one copy on disk
 * (the repo refers to it), a shared file that changes or goes is no longer
 * served, `verify` rechecks, gc never touches a user's file, and a get killed
 * with SIGKILL resumes from its `.part`.
 */
describe('cli: files shared in place', function () {
  this.timeout(180_000)
  const scope: DaemonScope = useDaemons({ perTest: true })

  it('add and get keep one copy on disk: the repo holds only the interior nodes', async () => {
    const a = await scope.start('a')
    const b = await scope.start('b', ['--bootstrap', a.addresses[0]])
    const file = path.join(scope.dir, 'shared.bin')
    await fs.writeFile(file, randomBytes(24 * MiB))
    const added = await json(['add', file, '--repo', a.repo])
    const out = path.join(scope.dir, 'copy.bin')
    await shoalOk(['get', added.cid, '-o', out, '--repo', b.repo])
    assert.equal(await sha256File(out), await sha256File(file))
    for (const peer of [a, b]) {
      const blocks = await treeBytes(path.join(peer.repo, 'blocks'))
      assert.ok(blocks < 64 * 1024, `${peer.repo}: the repo's blocks are the root only (${blocks} bytes)`)
      const stat = await json(['stat', '--repo', peer.repo])
      assert.equal(stat.blocks, 1)
      assert.equal(stat.referenced.files, 1)
      assert.equal(stat.referenced.bytes, 24 * MiB)
    }
    // b serves its output to a third peer
    const c = await scope.start('c', ['--bootstrap', b.addresses[0]])
    await shoalOk(['stop', '--repo', a.repo])
    const out2 = path.join(scope.dir, 'copy2.bin')
    await shoalOk(['get', added.cid, '-o', out2, '--repo', c.repo, '--timeout', '30'])
    assert.equal(await sha256File(out2), await sha256File(file))

    // --copy keeps a private copy, as before
    const copied = await json(['add', file, '--copy', '--repo', b.repo])
    assert.equal(copied.cid, added.cid)
    assert.ok(await treeBytes(path.join(b.repo, 'blocks')) > 24 * MiB)
  })

  it('a shared file changed under a running daemon is not served (nobody is banned for it); verify finds it, and serves it again once restored; a deleted one is missing', async () => {
    const a = await scope.start('a')
    const c = await scope.start('c', ['--bootstrap', a.addresses[0]])
    const file = path.join(scope.dir, 'changing.bin')
    const original = randomBytes(6 * MiB)
    await fs.writeFile(file, original)
    const { cid } = await json(['add', file, '--repo', a.repo])
    assert.equal((await json(['ls', '--repo', a.repo]))[0].state, 'ok')

    // a byte changed in place, same size: the leaf read for c fails verification on a, and is not sent
    const changed = Buffer.from(original)
    changed[3 * MiB + 5] ^= 0xff
    await fs.writeFile(file, changed)
    const r = await shoal(['get', cid, '-o', path.join(scope.dir, 'never'), '--repo', c.repo, '--timeout', '5', '--json'])
    assert.notEqual(r.code, 0)
    assert.equal(summaryOf(r).error.name, 'NoProvidersError')
    assert.deepEqual((await json(['stat', '--repo', c.repo])).banned, [], 'a is not banned: it said it lacks the leaf, it sent nothing false')
    await assert.rejects(fs.access(path.join(scope.dir, 'never')))
    assert.equal((await json(['ls', '--repo', a.repo]))[0].state, 'modified')
    assert.equal((await json(['status', cid, '--repo', a.repo])).state, 'modified')
    assert.deepEqual((await json(['stat', '--repo', a.repo])).referenced.modified, [cid])

    const bad = await shoal(['verify', cid, '--json', '--repo', a.repo])
    assert.equal(bad.code, 1)
    const [report] = JSON.parse(bad.stdout)
    assert.equal(report.state, 'modified')
    assert.equal(report.bad, 1, 'one leaf of six differs')
    assert.equal(report.leaves, 6)

    // the owner puts the bytes back: verify finds every leaf intact and a serves it again
    await fs.writeFile(file, original)
    const good = await json(['verify', cid, '--repo', a.repo])
    assert.equal(good[0].state, 'ok')
    const out = path.join(scope.dir, 'restored')
    await shoalOk(['get', cid, '-o', out, '--repo', c.repo, '--timeout', '30'])
    assert.ok((await fs.readFile(out)).equals(original))

    // deleted: missing, and the repo never recreates it
    const d = await json(['add', await writeFile(scope, 'gone.bin', 2 * MiB), '--repo', a.repo])
    await fs.rm(path.join(scope.dir, 'gone.bin'))
    const gone = await shoal(['verify', d.cid, '--json', '--repo', a.repo])
    assert.equal(gone.code, 1)
    assert.equal(JSON.parse(gone.stdout)[0].state, 'missing')
    assert.equal((await json(['ls', '--repo', a.repo])).find((p: any) => p.cid === d.cid).state, 'missing')
  })

  it('rm and gc drop references and never touch a user\'s file (added or fetched)', async () => {
    const a = await scope.start('a')
    const b = await scope.start('b', ['--bootstrap', a.addresses[0]])
    const file = await writeFile(scope, 'mine.bin', 5 * MiB)
    const want = await sha256File(file)
    const { cid } = await json(['add', file, '--repo', a.repo])
    const out = path.join(scope.dir, 'fetched.bin')
    await shoalOk(['get', cid, '-o', out, '--repo', b.repo])
    for (const [peer, kept] of [[a, file], [b, out]] as const) {
      await shoalOk(['rm', cid, '--repo', peer.repo])
      await shoalOk(['gc', '--repo', peer.repo])
      assert.equal(await sha256File(kept), want, `${kept} is untouched`)
      const stat = await json(['stat', '--repo', peer.repo])
      assert.equal(stat.referenced.files, 0, 'the reference is gone')
      assert.equal(stat.blocks, 0)
    }
  })

  it('a get killed with SIGKILL resumes from its .part without fetching a verified leaf again', async () => {
    const seeder = await scope.start('seeder', ['--max-upload-rate', '8MB'])
    const file = await writeFile(scope, 'slow.bin', 32 * MiB)
    const { cid } = await json(['add', file, '--repo', seeder.repo])
    const repo = scope.repo('getter')
    let getter = scope.track(await DaemonProcess.start(repo, ['--bootstrap', seeder.addresses[0]]))
    const out = path.join(scope.dir, 'resumed.bin')
    const getting = shoal(['get', cid, '-o', out, '--repo', repo])
    await until(async () => (await json(['stat', '--repo', repo]).catch(() => ({ bytesReceived: 0 }))).bytesReceived > 8 * MiB, '8 MiB arrived')
    await getter.kill('SIGKILL')
    assert.notEqual((await getting).code, 0)
    await assert.rejects(fs.access(out), 'nothing under the final name')
    const part = await fs.stat(`${out}.part`)
    assert.equal(part.size, 32 * MiB, 'the .part has the file\'s size, its leaves in place')

    getter = scope.track(await DaemonProcess.start(repo, ['--bootstrap', seeder.addresses[0]]))
    const again = summaryOf(await shoalOk(['get', cid, '-o', out, '--repo', repo, '--json']))
    assert.equal(await sha256File(out), await sha256File(file))
    await assert.rejects(fs.access(`${out}.part`), 'the .part became the output')
    assert.ok(again.blocksAlreadyHeld >= 8, `resumed with ${again.blocksAlreadyHeld} blocks held`)
    assert.equal(again.blocksFetched + again.blocksAlreadyHeld, 33, 'root + 32 leaves, none fetched twice by this get')
    await getter.kill('SIGTERM')
  })
})

async function writeFile (scope: DaemonScope, name: string, size: number): Promise<string> {
  const file = path.join(scope.dir, name)
  await fs.writeFile(file, randomBytes(size))
  return file
}
