import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DaemonProcess, shoalOk, tempDir } from '../helpers/cli.js'

describe('cli: a restarted daemon keeps its identity, pins and content', function () {
  this.timeout(120_000)
  let dir: string
  const daemons: DaemonProcess[] = []

  before(async () => { dir = await tempDir() })
  after(async () => {
    await Promise.all(daemons.map(async d => await d.kill('SIGKILL')))
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('same PeerId after shoal stop and start, pins kept, file still served', async () => {
    const repoA = path.join(dir, 'a')
    const repoB = path.join(dir, 'b')
    const a1 = await DaemonProcess.start(repoA)
    daemons.push(a1)
    const input = path.join(dir, 'input')
    const bytes = randomBytes(5 * 1024 * 1024 + 3)
    await fs.writeFile(input, bytes)
    const { cid } = JSON.parse((await shoalOk(['add', '--repo', repoA, input, '--json'])).stdout)

    await shoalOk(['stop', '--repo', repoA])
    assert.equal(await a1.exited, 0, 'a clean stop exits 0')
    await assert.rejects(fs.access(path.join(repoA, 'repo.lock')), 'the repo was released')

    const a2 = await DaemonProcess.start(repoA)
    daemons.push(a2)
    assert.equal(a2.peerId, a1.peerId)
    const ls = JSON.parse((await shoalOk(['ls', '--repo', repoA, '--json'])).stdout)
    assert.deepEqual(ls.map((p: any) => p.cid), [cid])

    const b = await DaemonProcess.start(repoB, ['--bootstrap', a2.addresses[0]])
    daemons.push(b)
    const out = path.join(dir, 'out')
    await shoalOk(['get', '--repo', repoB, cid, '-o', out, '--timeout', '30'])
    assert.equal(createHash('sha256').update(await fs.readFile(out)).digest('hex'), createHash('sha256').update(bytes).digest('hex'))
  })

  it('stops cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const repo = path.join(dir, `sig-${signal}`)
      const d = await DaemonProcess.start(repo)
      daemons.push(d)
      assert.equal(await d.kill(signal), 0)
      assert.match(d.log, /stopped/)
      await assert.rejects(fs.access(path.join(repo, 'api.sock')))
    }
  })
})
