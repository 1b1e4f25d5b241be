import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { blockKey } from '../../src/content/dag.js'
import { BlockStore } from '../../src/store/block-store.js'
import { DaemonProcess, sha256File, shoal, shoalOk, useDaemons } from '../helpers/cli.js'

const run = promisify(execFile)
const MiB = 1024 * 1024

/**
 * A repo on a 24 MiB tmpfs (mounting one needs root, as CI has): an add and a
 * get that do not fit fail with one line and exit code 5, keep the repo
 * consistent, and a gc (or `rm` of the unfinished download) makes room again.
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

  it('a get whose output does not fit fails with exit 5 and keeps only its .part; the repo reopens and every block verifies', async () => {
    const big = path.join(scope.dir, 'remote-big')
    await fs.writeFile(big, randomBytes(40 * MiB))
    const cid = JSON.parse((await shoalOk(['add', big, '--json', '--repo', seeder.repo])).stdout).cid
    // the output on the small disk too (the leaves go straight into it)
    const outDir = path.join(mountPoint, 'downloads')
    await fs.mkdir(outDir)
    const r = await shoal(['get', cid, '-o', path.join(outDir, 'big'), '--repo', small.repo, '--timeout', '30'])
    assert.equal(r.code, 5, r.stderr)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /no space left to write .*big: .*kept in .*big\.part.*resume/)
    assert.deepEqual(await fs.readdir(outDir), ['big.part'], 'nothing under the final name; the .part is kept to resume')
    await fs.rm(path.join(outDir, 'big.part'))

    // the last bytes taken too (here by another file), so not even the pin database can write:
    // giving the download up still works, deleting its blocks first
    const filler = path.join(small.repo, 'filler')
    await fs.writeFile(filler, Buffer.alloc(32 * MiB)).catch((err: any) => { if (err.code !== 'ENOSPC') throw err })
    await shoalOk(['rm', cid, '--repo', small.repo])
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
