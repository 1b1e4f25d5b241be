import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { shoal, shoalOk, useDaemons } from '../helpers/cli.js'

/** Every failure is one clear line on stderr and a documented exit code. */
function oneLine (stderr: string): string {
  const lines = stderr.trim().split('\n').filter(l => !l.startsWith('run "shoal --help"'))
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`)
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
  return lines[0]
}

describe('cli: bad input gets a clear error and loses nothing', function () {
  this.timeout(120_000)
  const scope = useDaemons()
  let dir: string
  let repoA: string
  let repoB: string

  before(async () => {
    dir = scope.dir
    repoA = scope.repo('a')
    repoB = scope.repo('b')
    const a = await scope.start('a')
    await scope.start('b', ['--bootstrap', a.addresses[0]])
  })

  it('no daemon running: exit 3, naming the repo and how to start one', async () => {
    const repo = path.join(dir, 'nobody-home')
    const r = await shoal(['ls', '--repo', repo])
    assert.equal(r.code, 3)
    const line = oneLine(r.stderr)
    assert.ok(line.includes(repo) && line.includes('shoal daemon --repo'), line)
  })

  it('malformed CID: exit 2', async () => {
    const r = await shoal(['get', '--repo', repoA, 'bafy-not-a-cid'])
    assert.equal(r.code, 2)
    assert.match(oneLine(r.stderr), /not a valid CID/)
  })

  it('missing input file: exit 2, nothing pinned', async () => {
    const r = await shoal(['add', '--repo', repoA, path.join(dir, 'no-such-file')])
    assert.equal(r.code, 2)
    assert.match(oneLine(r.stderr), /no such file or directory/)
    assert.deepEqual(JSON.parse((await shoalOk(['ls', '--repo', repoA, '--json'])).stdout), [])
  })

  it('a directory without -r: exit 2', async () => {
    const r = await shoal(['add', '--repo', repoA, dir])
    assert.equal(r.code, 2)
    assert.match(oneLine(r.stderr), /is a directory \(use -r/)
  })

  it('unknown option or command, malformed multiaddr: exit 2', async () => {
    const r1 = await shoal(['ls', '--repo', repoA, '--bogus'])
    assert.equal(r1.code, 2)
    assert.match(r1.stderr, /unknown option --bogus/)
    const r2 = await shoal(['fetch-everything'])
    assert.equal(r2.code, 2)
    const r3 = await shoal(['connect', '--repo', repoA, '/ip4/1.2.3/tcp/x'])
    assert.equal(r3.code, 2)
    assert.match(oneLine(r3.stderr), /not a valid multiaddr/)
  })

  it('a CID nobody has: exit 4 after the bounded wait, no output file', async () => {
    const unknown = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const out = path.join(dir, 'never')
    const started = Date.now()
    const r = await shoal(['get', '--repo', repoB, unknown, '-o', out, '--timeout', '3'])
    assert.equal(r.code, 4)
    // a note that it is searching, then the one error line
    const [searching, ...rest] = r.stderr.trim().split('\n')
    assert.match(searching, /^searching for peers that hold/)
    assert.match(oneLine(rest.join('\n')), /no reachable peer has bafkrei.* \(searched for 3 s\)/)
    assert.ok(Date.now() - started < 30_000)
    await assert.rejects(fs.access(out))
  })

  it('an existing output is not overwritten without --force', async () => {
    const input = path.join(dir, 'small')
    await fs.writeFile(input, 'hello shoal\n')
    const { cid } = JSON.parse((await shoalOk(['add', '--repo', repoA, input, '--json'])).stdout)
    const out = path.join(dir, 'exists')
    await fs.writeFile(out, 'keep me')
    const r = await shoal(['get', '--repo', repoA, cid, '-o', out])
    assert.equal(r.code, 2)
    assert.match(oneLine(r.stderr), /already exists \(use --force/)
    assert.equal(await fs.readFile(out, 'utf8'), 'keep me')
    await shoalOk(['get', '--repo', repoA, cid, '-o', out, '--force'])
    assert.equal(await fs.readFile(out, 'utf8'), 'hello shoal\n')
  })

  it('a block corrupted on disk is detected, not served, and never written out', async () => {
    const input = path.join(dir, 'to-corrupt')
    await fs.writeFile(input, randomBytes(3 * 1024 * 1024))
    const { cid } = JSON.parse((await shoalOk(['add', '--repo', repoA, input, '--copy', '--json'])).stdout)
    // rot every leaf file in A's store that belongs to this upload (the 3 raw leaves)
    const blocksDir = path.join(repoA, 'blocks')
    let rotted = 0
    for (const shard of await fs.readdir(blocksDir)) {
      for (const name of await fs.readdir(path.join(blocksDir, shard))) {
        const file = path.join(blocksDir, shard, name)
        const st = await fs.stat(file)
        if (st.size === 1024 * 1024) {
          const bytes = await fs.readFile(file)
          bytes[0] ^= 0xff
          await fs.writeFile(file, bytes)
          rotted++
        }
      }
    }
    assert.equal(rotted, 3)

    const outB = path.join(dir, 'from-b')
    const rB = await shoal(['get', '--repo', repoB, cid, '-o', outB, '--timeout', '3'])
    assert.equal(rB.code, 4, rB.stderr)
    oneLine(rB.stderr)
    await assert.rejects(fs.access(outB), 'no partial output')

    const outA = path.join(dir, 'from-a')
    const rA = await shoal(['get', '--repo', repoA, cid, '-o', outA, '--timeout', '3'])
    assert.equal(rA.code, 4, rA.stderr)
    await assert.rejects(fs.access(outA))
    const leftovers = (await fs.readdir(dir)).filter(n => n.endsWith('.part'))
    assert.deepEqual(leftovers, [], 'temporary files are removed')
  })
})
