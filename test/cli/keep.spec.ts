import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { sha256File, shoal, shoalJson, shoalOk, summaryOf, until, useDaemons } from '../helpers/cli.js'
import type { DaemonProcess, DaemonScope } from '../helpers/cli.js'

const MiB = 1024 * 1024

async function writeRandom (scope: DaemonScope, name: string, size: number): Promise<string> {
  const file = path.join(scope.dir, name)
  await fs.writeFile(file, randomBytes(size))
  return file
}

/** Start a get of `cid` into `out` and interrupt it (Ctrl-C) once `bytes` have arrived at `getter`. */
async function interruptedGet (getter: DaemonProcess, cid: string, out: string, bytes: number): Promise<void> {
  const ctrlC = new AbortController()
  const getting = shoal(['get', cid, '-o', out, '--repo', getter.repo], { interrupt: ctrlC.signal })
  await until(async () => (await shoalJson(['stat', '--repo', getter.repo])).bytesReceived >= bytes, `${bytes} bytes arrived`)
  ctrlC.abort()
  const r = await getting
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stderr, /interrupted: .* kept; run the same command to resume/)
}

/**
 * What keeps data, as a user meets it: an interrupted get is a record of its
 * own (listed, kept through reads and gc, resumed, given up only by `rm`),
 * pins are the user's and replicas', and a read keeps nothing once it ends.
 */
describe('cli: what this peer keeps', function () {
  this.timeout(180_000)
  const scope = useDaemons({ perTest: true })

  it('an interrupted get is listed, survives a cat of the same root and two gcs, and resumes from its .part', async () => {
    const seeder = await scope.start('seeder', ['--max-upload-rate', '8MB'])
    const file = await writeRandom(scope, 'big.bin', 24 * MiB)
    const { cid } = await shoalJson(['add', file, '--repo', seeder.repo])
    const getter = await scope.start('getter', ['--bootstrap', seeder.addresses[0]])
    const out = path.join(scope.dir, 'copy.bin')
    await interruptedGet(getter, cid, out, 6 * MiB)

    const [unfinished] = await shoalJson(['ls', '--downloads', '--repo', getter.repo])
    assert.equal(unfinished.cid, cid)
    assert.equal(unfinished.state, 'interrupted')
    assert.equal(unfinished.target, out)
    assert.ok(unfinished.bytesDone >= 6 * MiB && unfinished.bytesTotal > 24 * MiB, JSON.stringify(unfinished))
    assert.deepEqual(await shoalJson(['ls', '--repo', getter.repo]), [], 'an unfinished get is no pin')
    const text = (await shoalOk(['ls', '--repo', getter.repo])).stdout
    assert.match(text, new RegExp(`unfinished gets.*\\n${cid} .* of .*interrupted +${out}`))

    await shoalOk(['gc', '--repo', getter.repo])
    const cat = await shoal(['cat', cid, '--repo', getter.repo])
    assert.equal(cat.code, 0, cat.stderr)
    await shoalOk(['gc', '--repo', getter.repo])
    assert.equal((await fs.stat(`${out}.part`)).size, 24 * MiB, 'the .part and its leaves outlived the cat and the gcs')
    assert.equal((await shoalJson(['ls', '--downloads', '--repo', getter.repo])).length, 1)

    const done = summaryOf(await shoalOk(['get', cid, '-o', out, '--repo', getter.repo, '--json']))
    assert.equal(await sha256File(out), await sha256File(file))
    assert.ok(done.blocksAlreadyHeld >= 6, `resumed with ${done.blocksAlreadyHeld} blocks held`)
    assert.deepEqual(await shoalJson(['ls', '--downloads', '--repo', getter.repo]), [], 'a finished get leaves no record')
    assert.deepEqual((await shoalJson(['ls', '--repo', getter.repo])).map((p: any) => [p.cid, p.reasons]), [[cid, ['user']]])
  })

  it('rm during a get stops it first: nothing is pinned, announced or left behind; rm --download gives up a get and leaves the pin', async () => {
    const seeder = await scope.start('seeder', ['--max-upload-rate', '8MB'])
    const file = await writeRandom(scope, 'big.bin', 24 * MiB)
    const { cid } = await shoalJson(['add', file, '--repo', seeder.repo])
    const getter = await scope.start('getter', ['--bootstrap', seeder.addresses[0]])
    const out = path.join(scope.dir, 'copy.bin')
    const getting = shoal(['get', cid, '-o', out, '--repo', getter.repo])
    await until(async () => (await shoalJson(['stat', '--repo', getter.repo])).bytesReceived >= 4 * MiB, '4 MiB arrived')
    const rm = await shoalJson(['rm', cid, '--repo', getter.repo])
    assert.deepEqual(rm.reasons, ['download'])
    const r = await getting
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /given up/)
    assert.deepEqual(await fs.readdir(scope.dir).then(names => names.filter(n => n.startsWith('copy.bin'))), [], 'no output and no .part')
    assert.deepEqual(await shoalJson(['ls', '--repo', getter.repo]), [])
    assert.deepEqual(await shoalJson(['ls', '--downloads', '--repo', getter.repo]), [])
    const stat = await shoalJson(['stat', '--repo', getter.repo])
    assert.equal(stat.provided, 0, 'the root it was serving while it downloaded is withdrawn')
    assert.equal(stat.storage.partial.count, 0)

    // the same bytes added here are the user's pin; an interrupted get of them is given up alone
    await interruptedGet(getter, cid, out, (await shoalJson(['stat', '--repo', getter.repo])).bytesReceived + 4 * MiB)
    await shoalOk(['add', file, '--repo', getter.repo])
    assert.match((await shoalOk(['rm', '--download', cid, '--repo', getter.repo])).stdout, /gave up/)
    await assert.rejects(fs.access(`${out}.part`), 'its .part is deleted')
    assert.deepEqual((await shoalJson(['ls', '--repo', getter.repo])).map((p: any) => [p.cid, p.reasons]), [[cid, ['user']]])
    const again = await shoal(['rm', '--download', cid, '--repo', getter.repo])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /no unfinished get/)
  })

  it('a get that fails having stored nothing leaves nothing behind', async () => {
    const getter = await scope.start('getter')
    const unknown = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
    const out = path.join(scope.dir, 'never')
    const r = await shoal(['get', unknown, '-o', out, '--timeout', '2', '--repo', getter.repo])
    assert.equal(r.code, 4, r.stderr)
    assert.deepEqual(await shoalJson(['ls', '--downloads', '--repo', getter.repo]), [])
    await assert.rejects(fs.access(`${out}.part`))
  })

  it('get --force onto its own output keeps serving it; a fetched directory is listed as one', async () => {
    const seeder = await scope.start('seeder')
    const file = await writeRandom(scope, 'f.bin', 3 * MiB)
    const dir = path.join(scope.dir, 'tree')
    await fs.mkdir(path.join(dir, 'sub'), { recursive: true })
    await fs.writeFile(path.join(dir, 'a.txt'), 'a')
    await fs.writeFile(path.join(dir, 'sub', 'b.bin'), randomBytes(MiB + 7))
    const { cid } = await shoalJson(['add', file, '--repo', seeder.repo])
    const tree = await shoalJson(['add', '-r', dir, '--repo', seeder.repo])
    const getter = await scope.start('getter', ['--bootstrap', seeder.addresses[0]])
    const out = path.join(scope.dir, 'out.bin')
    await shoalOk(['get', cid, '-o', out, '--repo', getter.repo])
    await shoalOk(['get', cid, '-o', out, '--force', '--repo', getter.repo])
    const treeOut = path.join(scope.dir, 'tree-copy')
    await shoalOk(['get', tree.cid, '-o', treeOut, '--repo', getter.repo])
    const pins = await shoalJson(['ls', '--repo', getter.repo])
    assert.deepEqual(pins.map((p: any) => [p.cid, p.kind, p.state]), [[cid, 'file', 'ok'], [tree.cid, 'directory', 'ok']], 'the file still served from the file it rewrote; the tree a directory')
    const stat = await shoalJson(['stat', '--repo', getter.repo])
    assert.equal(stat.storage.shared.count, 3, 'one record for each file written: out.bin, a.txt, sub/b.bin')
    assert.deepEqual([stat.referenced.modified, stat.referenced.missing], [[], []])
    // a third peer fetches the file from the getter alone
    const third = await scope.start('third', ['--bootstrap', getter.addresses[0]])
    await seeder.kill()
    const back = path.join(scope.dir, 'back.bin')
    await shoalOk(['get', cid, '-o', back, '--repo', third.repo])
    assert.equal(await sha256File(back), await sha256File(file))
  })
})
