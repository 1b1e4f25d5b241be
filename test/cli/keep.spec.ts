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

  it('a shared file moved away and back is served again without a restart', async () => {
    const a = await scope.start('a', ['--bootstrap', (await scope.start('b')).addresses[0]])
    const file = await writeRandom(scope, 'shared.bin', 2 * MiB)
    const { cid } = await shoalJson(['add', file, '--repo', a.repo])
    const away = path.join(scope.dir, 'away.bin')
    await fs.rename(file, away)
    // a read fails on the missing file at once (the periodic check would see it within 10 s)
    const gone = await shoal(['cat', cid, '--timeout', '1', '--repo', a.repo])
    assert.notEqual(gone.code, 0)
    assert.equal((await shoalJson(['ls', '--repo', a.repo]))[0].state, 'missing')
    await fs.rename(away, file)
    await until(async () => (await shoalJson(['ls', '--repo', a.repo]))[0].state === 'ok', 'it is served again', 30_000)
    const back = await shoal(['cat', cid, '--repo', a.repo])
    assert.equal(back.code, 0, back.stderr)
    assert.equal(back.stdout.length > 0, true)
  })

  it('a root read, then collected, is no longer provided, and stays withdrawn after a restart', async () => {
    const seeder = await scope.start('seeder')
    const file = await writeRandom(scope, 'read.bin', 2 * MiB)
    const { cid } = await shoalJson(['add', file, '--repo', seeder.repo])
    let reader = await scope.start('reader', ['--bootstrap', seeder.addresses[0]])
    assert.equal((await shoal(['cat', cid, '--repo', reader.repo])).code, 0)
    await until(async () => (await shoalJson(['stat', '--repo', reader.repo])).provided === 1, 'the read root is provided while it is here')
    // a restart before any gc: what was provided then and is kept by nothing is withdrawn at start
    await shoalOk(['stop', '--repo', reader.repo])
    reader = await scope.start('reader', ['--bootstrap', seeder.addresses[0]])
    assert.equal((await shoalJson(['stat', '--repo', reader.repo])).provided, 0)
    // a pinned root stays provided across a gc and a restart; a read one goes at the gc
    const mine = await writeRandom(scope, 'mine.bin', MiB)
    await shoalOk(['add', mine, '--repo', reader.repo])
    assert.equal((await shoal(['cat', cid, '--repo', reader.repo])).code, 0)
    await until(async () => (await shoalJson(['stat', '--repo', reader.repo])).provided === 2, 'both are provided')
    await shoalOk(['gc', '--repo', reader.repo])
    assert.equal((await shoalJson(['stat', '--repo', reader.repo])).provided, 1)
    await shoalOk(['stop', '--repo', reader.repo])
    reader = await scope.start('reader', ['--bootstrap', seeder.addresses[0]])
    assert.equal((await shoalJson(['stat', '--repo', reader.repo])).provided, 1)
  })

  it('--max-storage counts replica packs: a full peer declines, and never holds more than its limit', async () => {
    const key = path.join(scope.dir, 'group.key')
    await fs.writeFile(key, (await shoalOk(['group-key'])).stdout, { mode: 0o600 })
    const group = ['--group-key', key, '--check-interval', '0.3', '--grace-period', '60']
    const adder = await scope.start('adder', group)
    const small = await scope.start('small', [...group, '--bootstrap', adder.addresses[0], '--max-storage', '12MB'])
    for (const name of ['c', 'd']) await scope.start(name, [...group, '--bootstrap', adder.addresses[0]])
    const roots: string[] = []
    for (let i = 0; i < 6; i++) {
      const file = await writeRandom(scope, `r${i}.bin`, 4 * MiB)
      roots.push((await shoalJson(['add', file, '--replicas', '3', '--repo', adder.repo])).cid)
    }
    // every root gets its 3 copies, among the peers with room
    for (const cid of roots) {
      await until(async () => {
        const r = await shoal(['status', cid, '--json', '--repo', adder.repo])
        return r.code === 0 && JSON.parse(r.stdout).copies >= 3
      }, `${cid} has 3 copies`)
    }
    const st = (await shoalJson(['stat', '--repo', small.repo])).storage
    assert.ok(st.repo <= 12_000_000, `the small peer holds ${st.repo} bytes`)
    assert.ok(st.packs.count >= 1 && st.packs.count <= 2, `${st.packs.count} replicas of 4 MiB in 12 MB`)
  })

  it('a copy of a root its user deleted does not stop the peer serving the root from another copy', async () => {
    const a = await scope.start('a')
    const file = await writeRandom(scope, 'original.bin', 3 * MiB)
    const { cid } = await shoalJson(['add', file, '--repo', a.repo])
    const copy = path.join(scope.dir, 'copy.bin')
    await shoalOk(['get', cid, '-o', copy, '--repo', a.repo])
    assert.equal((await shoalJson(['stat', '--repo', a.repo])).storage.shared.count, 2, 'two files hold the root')
    await fs.rm(copy)
    // verify finds the copy gone at once (the periodic check would within 10 s)
    const verified = await shoal(['verify', cid, '--json', '--repo', a.repo])
    assert.deepEqual(JSON.parse(verified.stdout)[0].files.map((f: any) => f.state).sort(), ['missing', 'ok'])
    await until(async () => (await shoalJson(['ls', '--repo', a.repo]))[0].state === 'ok', 'the root is served from the original')
    assert.deepEqual((await shoalJson(['stat', '--repo', a.repo])).referenced.missing, [])
    const b = await scope.start('b', ['--bootstrap', a.addresses[0]])
    const back = path.join(scope.dir, 'back.bin')
    await shoalOk(['get', cid, '-o', back, '--timeout', '20', '--repo', b.repo])
    assert.equal(await sha256File(back), await sha256File(file))
  })
})
