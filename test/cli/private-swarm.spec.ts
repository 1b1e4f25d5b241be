import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { sha256File, shoal, shoalOk, useDaemons } from '../helpers/cli.js'

describe('cli: private swarms (--swarm-key)', function () {
  this.timeout(120_000)
  const scope = useDaemons()

  it('peers holding the key share files; a peer without it, or with another key, can neither connect nor fetch', async () => {
    const key = path.join(scope.dir, 'swarm.key')
    const other = path.join(scope.dir, 'other.key')
    await fs.writeFile(key, (await shoalOk(['swarm-key'])).stdout)
    await fs.writeFile(other, (await shoalOk(['swarm-key'])).stdout)
    assert.match(await fs.readFile(key, 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)

    const a = await scope.start('a', ['--swarm-key', key])
    const b = await scope.start('b', ['--swarm-key', key, '--bootstrap', a.addresses[0]])
    const file = path.join(scope.dir, 'input')
    await fs.writeFile(file, randomBytes(2 * 1024 * 1024))
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', a.repo])).stdout)
    await shoalOk(['get', cid, '-o', path.join(scope.dir, 'b-copy'), '--repo', b.repo])
    assert.equal(await sha256File(path.join(scope.dir, 'b-copy')), await sha256File(file))

    for (const [name, args] of [['open', []], ['wrong-key', ['--swarm-key', other]]] as const) {
      const outsider = await scope.start(name, [...args])
      const dial = await shoal(['connect', a.addresses[0], '--repo', outsider.repo])
      assert.notEqual(dial.code, 0, `${name}: connected`)
      const get = await shoal(['get', cid, '-o', path.join(scope.dir, `${name}-copy`), '--timeout', '3', '--repo', outsider.repo])
      assert.equal(get.code, 4, `${name}: ${get.stderr}`)
      await assert.rejects(fs.access(path.join(scope.dir, `${name}-copy`)))
    }
  })

  it('refuses a file that is not a swarm key with one clear line', async () => {
    const bad = path.join(scope.dir, 'bad.key')
    await fs.writeFile(bad, 'not a key\n')
    const r = await shoal(['daemon', '--repo', scope.repo('bad'), '--swarm-key', bad, '--listen', '/ip4/127.0.0.1/tcp/0'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /bad\.key is not a libp2p swarm key/)
  })
})
