import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { blockKey } from '../../src/content/dag.js'
import { BlockStore } from '../../src/store/block-store.js'
import { DaemonProcess, sha256File, shoal, shoalOk, until, useDaemons } from '../helpers/cli.js'

const run = promisify(execFile)
const MiB = 1024 * 1024

/**
 * A repo on a 24 MiB tmpfs (mounting one needs root, as CI has): an add and a
 * get that do not fit fail with one line and exit code 5, keep the repo
 * consistent, and a gc (or `rm` of the unfinished get) makes room again.
 */
describe('cli: a full disk', function () {
  this.timeout(120_000)
  let mountPoint = ''
  // registered before the daemons' scope, so it runs first: a lazy unmount works with the daemon still up
  after(async () => {
    if (mountPoint !== '') await run('umount', ['-l', mountPoint])
  })
  const scope = useDaemons()
  let small: DaemonProcess
  let seeder: DaemonProcess

  before(async () => {
    if (process.getuid?.() !== 0) {
      throw new Error('this test mounts a small tmpfs for the repo and must run as root (CI does)')
    }
    const repo = scope.repo('small')
    await fs.mkdir(repo)
    await run('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', repo])
    mountPoint = repo
    small = await scope.start('small')
    seeder = await scope.start('seeder', ['--bootstrap', small.addresses[0]])
  })

  it('an add --copy that does not fit fails with exit 5 and pins nothing; after a gc the repo takes files again', async () => {
    const big = path.join(scope.dir, 'big')
    await fs.writeFile(big, randomBytes(40 * MiB))
    const r = await shoal(['add', big, '--copy', '--repo', small.repo])
    assert.equal(r.code, 5, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /disk is full/)
    assert.deepEqual(JSON.parse((await shoalOk(['ls', '--json', '--repo', small.repo])).stdout), [])

    await shoalOk(['gc', '--repo', small.repo])
    const file = path.join(scope.dir, 'fits')
    await fs.writeFile(file, randomBytes(3 * MiB))
    const cid = JSON.parse((await shoalOk(['add', file, '--json', '--repo', small.repo])).stdout).cid
    const out = path.join(scope.dir, 'fits-back')
    await shoalOk(['get', cid, '-o', out, '--repo', small.repo])
    assert.equal(await sha256File(out), await sha256File(file))
  })

  it('a get whose output cannot fit is refused before it writes anything; one whose disk fills midway keeps its .part to resume; the repo reopens and every block verifies', async () => {
    const big = path.join(scope.dir, 'remote-big')
    await fs.writeFile(big, randomBytes(40 * MiB))
    const cid = JSON.parse((await shoalOk(['add', big, '--json', '--repo', seeder.repo])).stdout).cid
    // the output on the small disk too (the leaves go straight into it)
    const outDir = path.join(mountPoint, 'downloads')
    await fs.mkdir(outDir)
    const r = await shoal(['get', cid, '-o', path.join(outDir, 'big'), '--repo', small.repo, '--timeout', '30'])
    assert.equal(r.code, 5, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /big needs \d+ bytes and its disk has room for \d+/)
    assert.deepEqual(await fs.readdir(outDir), [], 'refused before a byte was written: nothing to resume, nothing left')
    assert.deepEqual(JSON.parse((await shoalOk(['ls', '--downloads', '--json', '--repo', small.repo])).stdout), [])

    // a file that fits when the get starts, and a disk another program fills while it runs
    const slow = await scope.start('slow-seeder', ['--bootstrap', small.addresses[0], '--max-upload-rate', '4MB'])
    const mid = path.join(scope.dir, 'remote-mid')
    await fs.writeFile(mid, randomBytes(12 * MiB))
    const midCid = JSON.parse((await shoalOk(['add', mid, '--json', '--repo', slow.repo])).stdout).cid
    const getting = shoal(['get', midCid, '-o', path.join(outDir, 'mid'), '--repo', small.repo, '--timeout', '30'])
    await until(async () => JSON.parse((await shoalOk(['stat', '--json', '--repo', small.repo])).stdout).storage.partial.bytes >= 2 * MiB, '2 MiB were written')
    const filler = path.join(small.repo, 'filler')
    await fs.writeFile(filler, Buffer.alloc(32 * MiB)).catch((err: any) => { if (err.code !== 'ENOSPC') throw err })
    const m = await getting
    assert.equal(m.code, 5, m.stderr)
    assert.equal(m.stderr.trim().split('\n').length, 1, m.stderr)
    assert.match(m.stderr, /no space left to write .*mid: .*kept in .*mid\.part.*resume/)
    assert.deepEqual(await fs.readdir(outDir), ['mid.part'], 'nothing under the final name; the .part is kept to resume')
    const unfinished = JSON.parse((await shoalOk(['ls', '--downloads', '--json', '--repo', small.repo])).stdout)
    assert.deepEqual(unfinished.map((d: any) => [d.cid, d.state]), [[midCid, 'interrupted']])

    // the last bytes taken (by the filler), so not even the pin database can write: giving the
    // download up still works, deleting its output first
    await shoalOk(['rm', midCid, '--repo', small.repo])
    assert.deepEqual(await fs.readdir(outDir), [], 'the given-up get\'s .part is gone')
    await fs.rm(filler)
    await shoalOk(['gc', '--repo', small.repo])
    const stat = JSON.parse((await shoalOk(['stat', '--json', '--repo', small.repo])).stdout)
    assert.ok(stat.bytes < 4 * MiB, `only the pinned 3 MiB file is left (${stat.bytes} bytes)`)

    // a hard stop, then the repo opens again and every stored block matches its CID
    await small.kill('SIGKILL')
    const blocks = new BlockStore(path.join(small.repo, 'blocks'))
    await blocks.open()
    let count = 0
    for await (const { cid: c } of blocks.entries()) {
      const block = await blocks.get(c)
      assert.equal(blockKey(block.cid), blockKey(c))
      count++
    }
    await blocks.close()
    assert.ok(count > 0, 'the pinned file of the first test is still there')
    small = scope.track(await DaemonProcess.start(small.repo))
    const pins = JSON.parse((await shoalOk(['ls', '--json', '--repo', small.repo])).stdout)
    assert.deepEqual(pins.map((p: any) => p.reasons), [['user']], 'the first file is pinned; the failed get left nothing pinned')
    const back = path.join(scope.dir, 'pinned-back')
    await shoalOk(['get', pins[0].cid, '-o', back, '--repo', small.repo])
    assert.equal(await sha256File(back), await sha256File(path.join(scope.dir, 'fits')))
  })
})
