import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { defaultConfig } from '../../src/config/schema.js'
import { readConfig } from '../../src/config/file.js'
import { validateConfig } from '../../src/config/validate.js'
import { Repo } from '../../src/store/repo.js'
import { initRepo } from '../../src/config/file.js'
import { tempDir } from '../helpers/cli.js'

describe('store: config and repo', () => {
  it('fills in defaults', () => {
    const c = validateConfig({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    assert.deepEqual(c.listen, ['/ip4/127.0.0.1/tcp/0'])
    assert.equal(c.chunkSize, 1024 * 1024)
    assert.deepEqual(c.limits, defaultConfig().limits)
  })

  it('names the bad field', () => {
    assert.throws(() => validateConfig({ listen: ['nonsense'] }), /listen: not a valid multiaddr/)
    assert.throws(() => validateConfig({ chunkSize: 10 }), /chunkSize must be between/)
    assert.throws(() => validateConfig({ limits: { bogus: 1 } }), /unknown limit "bogus"/)
    assert.throws(() => validateConfig({ limits: { requestWindow: -1 } }), /limits.requestWindow must be a positive integer/)
    assert.throws(() => validateConfig({ chunkSize: 1024 * 1024, limits: { maxMessageSize: 1024 * 1024 } }), /limits.maxMessageSize must be at least chunkSize/)
    assert.throws(() => validateConfig([]), { name: 'ConfigError' })
  })

  it('reports unreadable JSON with the file name', async () => {
    const dir = await tempDir()
    const file = path.join(dir, 'config.json')
    await fs.writeFile(file, '{ nope')
    await assert.rejects(readConfig(file), (err: Error) => err.name === 'ConfigError' && err.message.includes(file))
    await fs.rm(dir, { recursive: true })
  })

  it('creates a private repo, keeps the identity, and refuses a second opener', async () => {
    const dir = await tempDir()
    const root = path.join(dir, 'repo')
    assert.equal(await initRepo(root), true)
    assert.equal(await initRepo(root), false)
    assert.equal((await fs.stat(root)).mode & 0o777, 0o700)
    assert.equal((await fs.stat(path.join(root, 'identity.key'))).mode & 0o777, 0o600)

    const repo = new Repo(root)
    await repo.open()
    const id1 = repo.privateKey.publicKey.toString()
    await assert.rejects(new Repo(root).open(), /in use by another Shoal daemon/)
    await repo.close()

    const again = new Repo(root)
    await again.open()
    assert.equal(again.privateKey.publicKey.toString(), id1)
    await again.close()
    await fs.rm(dir, { recursive: true })
  })

  it('explains a missing repo and creates nothing', async () => {
    const dir = await tempDir()
    await assert.rejects(new Repo(path.join(dir, 'none')).open(), /no Shoal repo at .* shoal init/)
    assert.deepEqual(await fs.readdir(dir), [])
    await fs.rm(dir, { recursive: true })
  })
})
