import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CarWriter } from '@ipld/car'
import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { SHOAL_BIN, files, sha256File, shoal, shoalOk, useDaemons } from '../helpers/cli.js'

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures')
/** ipfs-car's command (an npm package nobody here wrote), run with this Node. */
const IPFS_CAR = path.join(path.dirname(createRequire(import.meta.url).resolve('ipfs-car/package.json')), 'bin.js')

async function ipfsCar (args: string[]): Promise<string> {
  const child = spawn(process.execPath, [IPFS_CAR, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const code = await new Promise(resolve => child.on('close', resolve))
  assert.equal(code, 0, `ipfs-car ${args.join(' ')}: ${stderr}`)
  return stdout.trim()
}

/** The bytes `shoal ARGS` writes to stdout (it must succeed). */
async function stdoutOf (args: string[]): Promise<Buffer> {
  const child = spawn(process.execPath, [SHOAL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const chunks: Buffer[] = []
  let stderr = ''
  child.stdout.on('data', d => { chunks.push(d) })
  child.stderr.on('data', d => { stderr += d })
  const code = await new Promise(resolve => child.on('close', resolve))
  assert.equal(code, 0, stderr)
  return Buffer.concat(chunks)
}

async function pinned (repo: string): Promise<string[]> {
  return JSON.parse((await shoalOk(['ls', '--repo', repo, '--json'])).stdout).map((p: any) => p.cid)
}

describe('cli: CAR files, with ipfs-car on the other end', function () {
  this.timeout(120_000)
  const scope = useDaemons()

  it('imports what ipfs-car packed (same root, pinned) and another peer fetches it from there', async () => {
    const a = await scope.start('a')
    await scope.start('b', ['--bootstrap', a.addresses[0]])
    const input = path.join(scope.dir, 'packed.bin')
    await fs.writeFile(input, randomBytes(3 * 1024 * 1024 + 12345))
    const car = path.join(scope.dir, 'packed.car')
    await ipfsCar(['pack', input, '--no-wrap', '--output', car])
    const root = await ipfsCar(['roots', car])

    const imported = JSON.parse((await shoalOk(['import', '--repo', scope.repo('a'), car, '--json'])).stdout)
    assert.equal(imported.roots.length, 1)
    assert.equal(imported.roots[0].cid, root)
    assert.equal(imported.roots[0].size, 3 * 1024 * 1024 + 12345)
    assert.equal(imported.blocks, 5)
    assert.ok((await pinned(scope.repo('a'))).includes(root))

    // the CAR is an archive: the repo holds the blocks, so removing it changes nothing
    await fs.rm(car)
    const out = path.join(scope.dir, 'fetched.bin')
    await shoalOk(['get', '--repo', scope.repo('b'), root, '-o', out, '--timeout', '30'])
    assert.equal(await sha256File(out), await sha256File(input))
  })

  it('exports a directory it must fetch first, and ipfs-car unpacks the same tree', async () => {
    const a = await scope.start('c')
    await scope.start('d', ['--bootstrap', a.addresses[0]])
    const tree = JSON.parse((await shoalOk(['add', '--repo', scope.repo('c'), '-r', path.join(FIXTURES, 'tree'), '--json'])).stdout)

    const car = path.join(scope.dir, 'tree.car')
    const written = await shoalOk(['export', '--repo', scope.repo('d'), tree.cid, '-o', car, '--timeout', '30'])
    assert.equal(written.stdout.trim(), car)
    await assert.rejects(fs.stat(`${car}.part`), { code: 'ENOENT' })
    assert.equal(await ipfsCar(['roots', car]), tree.cid)
    // a file of that name, or of its .part, is the user's: never written over without --force
    const again = await shoal(['export', '--repo', scope.repo('d'), tree.cid, '-o', car])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /exists: give another name, or --force/)
    const other = path.join(scope.dir, 'other.car')
    await fs.writeFile(`${other}.part`, 'mine')
    const blocked = await shoal(['export', '--repo', scope.repo('d'), tree.cid, '-o', other])
    assert.equal(blocked.code, 2)
    assert.equal(await fs.readFile(`${other}.part`, 'utf8'), 'mine')
    await assert.rejects(fs.stat(other), { code: 'ENOENT' })
    await shoalOk(['export', '--repo', scope.repo('d'), tree.cid, '-o', car, '--force'])
    assert.equal(await ipfsCar(['roots', car]), tree.cid)
    const unpacked = path.join(scope.dir, 'unpacked')
    await ipfsCar(['unpack', car, '--output', unpacked])
    assert.deepEqual(await files(unpacked), await files(path.join(FIXTURES, 'tree')))
    for (const f of (await files(unpacked)).filter(f => !f.endsWith('/'))) {
      assert.equal(await sha256File(path.join(unpacked, f)), await sha256File(path.join(FIXTURES, 'tree', f)), f)
    }
    // to stdout: the same bytes; and an export pins nothing
    assert.deepEqual(await stdoutOf(['export', '--repo', scope.repo('d'), tree.cid]), await fs.readFile(car))
    assert.deepEqual(await pinned(scope.repo('d')), [])

    // a path inside the root: cat, get (named after it) and an export of it
    const blob = await fs.readFile(path.join(FIXTURES, 'tree', 'docs', 'blob.bin'))
    const e = await scope.start('path-reader', ['--bootstrap', a.addresses[0]])
    assert.deepEqual(await stdoutOf(['cat', '--repo', e.repo, `${tree.cid}/docs/blob.bin`]), blob)
    const into = path.join(scope.dir, 'into')
    await fs.mkdir(into)
    await shoalOk(['get', '--repo', e.repo, `/ipfs/${tree.cid}/docs/blob.bin`, '-o', into])
    assert.deepEqual(await fs.readFile(path.join(into, 'blob.bin')), blob)
    const missing = await shoal(['cat', '--repo', e.repo, `${tree.cid}/docs/nothing-here`, '--json'])
    assert.equal(missing.code, 4)
    assert.equal(JSON.parse(missing.stdout).error.name, 'NotFoundError')
  })

  it('refuses a CAR with a block that does not match its CID, one missing a block, and a file that is no CAR: nothing pinned', async () => {
    await scope.start('e')
    const repo = scope.repo('e')
    const input = path.join(scope.dir, 'to-corrupt.bin')
    await fs.writeFile(input, randomBytes(2 * 1024 * 1024 + 7))
    const car = path.join(scope.dir, 'corrupt.car')
    await ipfsCar(['pack', input, '--no-wrap', '--output', car])
    const root = await ipfsCar(['roots', car])
    const bytes = await fs.readFile(car)
    // a byte in the middle of the first leaf's data
    bytes[Math.floor(bytes.byteLength / 4)] ^= 0xff
    await fs.writeFile(car, bytes)
    const corrupt = await shoal(['import', '--repo', repo, car, '--json'])
    assert.notEqual(corrupt.code, 0)
    assert.equal(JSON.parse(corrupt.stdout).error.name, 'BlockVerificationError')

    // a well-formed CAR whose root links to a leaf it does not carry
    const leaf = new Uint8Array(1000).fill(9)
    const leafCid = CID.create(1, raw.code, await sha256.digest(leaf))
    const { root: dirRoot, bytes: dirBytes } = await oneLinkDirectory(leafCid, leaf.byteLength)
    const partial = path.join(scope.dir, 'partial.car')
    await writeCar(partial, dirRoot, [{ cid: dirRoot, bytes: dirBytes }])
    const missing = await shoal(['import', '--repo', repo, partial, '--json'])
    assert.notEqual(missing.code, 0)
    assert.match(JSON.parse(missing.stdout).error.message, /does not hold all of .* 1 block\(s\) missing/)

    const notCar = await shoal(['import', '--repo', repo, input])
    assert.equal(notCar.code, 2)
    assert.match(notCar.stderr, /^shoal: not a CAR file/)
    assert.equal(notCar.stderr.trim().split('\n').length, 1)

    const pins = await pinned(repo)
    assert.ok(!pins.includes(root))
    assert.ok(!pins.includes(dirRoot.toString()))
  })

  it('an export that cannot finish leaves no file behind', async () => {
    await scope.start('f')
    const nowhere = CID.create(1, raw.code, await sha256.digest(randomBytes(32))).toString()
    const car = path.join(scope.dir, 'nowhere.car')
    const failed = await shoal(['export', '--repo', scope.repo('f'), nowhere, '-o', car, '--timeout', '1'])
    assert.notEqual(failed.code, 0)
    assert.match(failed.stderr, /^shoal: /)
    await assert.rejects(fs.stat(car), { code: 'ENOENT' })
    await assert.rejects(fs.stat(`${car}.part`), { code: 'ENOENT' })
  })
})

/** A UnixFS directory with one entry, `a`, linking to `child`. */
async function oneLinkDirectory (child: CID, size: number): Promise<{ root: CID, bytes: Uint8Array }> {
  const dagPb = await import('@ipld/dag-pb')
  const { UnixFS } = await import('ipfs-unixfs')
  const bytes = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Name: 'a', Hash: child, Tsize: size }] }))
  return { root: CID.create(1, dagPb.code, await sha256.digest(bytes)), bytes }
}

async function writeCar (file: string, root: CID, blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<void> {
  const { writer, out } = CarWriter.create([root])
  const chunks: Uint8Array[] = []
  const reading = (async () => { for await (const c of out) chunks.push(c) })()
  for (const b of blocks) await writer.put(b)
  await writer.close()
  await reading
  await fs.writeFile(file, chunks)
}
