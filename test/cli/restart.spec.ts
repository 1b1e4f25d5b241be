import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { shoalOk, useDaemons } from '../helpers/cli.js'

describe('cli: a restarted daemon keeps its identity, pins and content', function () {
  this.timeout(120_000)
  const scope = useDaemons()

  it('same PeerId after shoal stop and start, pins kept, file still served', async () => {
    const dir = scope.dir
    const repoA = scope.repo('a')
    const repoB = scope.repo('b')
    const a1 = await scope.start('a')
    const input = path.join(dir, 'input')
    const bytes = randomBytes(5 * 1024 * 1024 + 3)
    await fs.writeFile(input, bytes)
    const { cid } = JSON.parse((await shoalOk(['add', '--repo', repoA, input, '--json'])).stdout)

    await shoalOk(['stop', '--repo', repoA])
    assert.equal(await a1.exited, 0, 'a clean stop exits 0')
    await assert.rejects(fs.access(path.join(repoA, 'repo.lock')), 'the repo was released')

    const a2 = await scope.start('a')
    assert.equal(a2.peerId, a1.peerId)
    const ls = JSON.parse((await shoalOk(['ls', '--repo', repoA, '--json'])).stdout)
    assert.deepEqual(ls.map((p: any) => p.cid), [cid])

    await scope.start('b', ['--bootstrap', a2.addresses[0]])
    const out = path.join(dir, 'out')
    await shoalOk(['get', '--repo', repoB, cid, '-o', out, '--timeout', '30'])
    assert.equal(createHash('sha256').update(await fs.readFile(out)).digest('hex'), createHash('sha256').update(bytes).digest('hex'))
  })

  it('stops cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const repo = scope.repo(`sig-${signal}`)
      const d = await scope.start(`sig-${signal}`)
      assert.equal(await d.kill(signal), 0)
      assert.match(d.log, /stopped/)
      await assert.rejects(fs.access(path.join(repo, 'api.sock')))
    }
  })
})
