import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { DaemonProcess, shoal, useDaemons } from '../helpers/cli.js'

interface Answer { status: number, body: any }

async function request (url: string, headers: Record<string, string>): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/id`, { headers }, res => {
      let text = ''
      res.on('data', d => { text += d })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }) })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('cli: the TCP control API (--api)', function () {
  this.timeout(60_000)
  const scope = useDaemons()
  let daemon: DaemonProcess
  let url: string
  let token: string

  before(async () => {
    daemon = scope.track(await DaemonProcess.start(scope.repo('a'), ['--api', '/ip4/127.0.0.1/tcp/0']))
    url = /api on (http:\/\/\S+)/.exec(daemon.log)![1]
    const file = path.join(daemon.repo, 'api.token')
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600)
    token = (await fs.readFile(file, 'utf8')).trim()
  })

  it('answers a request with the token from the repo', async () => {
    const r = await request(url, { authorization: `Bearer ${token}` })
    assert.equal(r.status, 200)
    assert.equal(r.body.peerId, daemon.peerId)
  })

  it('401 without the token or with a wrong one', async () => {
    assert.equal((await request(url, {})).status, 401)
    assert.equal((await request(url, { authorization: `Bearer ${'0'.repeat(64)}` })).status, 401)
    assert.equal((await request(url, { authorization: token })).status, 401)
  })

  it('403 for a foreign Origin (a web page) or a foreign Host (DNS rebinding), even with the token', async () => {
    const auth = { authorization: `Bearer ${token}` }
    const port = new URL(url).port
    assert.equal((await request(url, { ...auth, origin: 'https://evil.example' })).status, 403)
    assert.equal((await request(url, { ...auth, host: `evil.example:${port}` })).status, 403)
    assert.equal((await request(url, { ...auth, host: `localhost:${port}`, origin: `http://localhost:${port}` })).status, 200)
  })

  it('binds loopback only unless told otherwise', async () => {
    const r = await shoal(['daemon', '--repo', scope.repo('b'), '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '/ip4/0.0.0.0/tcp/0'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /not a loopback address; the control API binds loopback only unless --api-allow-remote/)
  })

  it('replaces an empty or short api.token at start and says so: no request without the token is ever let in', async () => {
    const repo = scope.repo('weak-token')
    await shoal(['init', '--repo', repo])
    const file = path.join(repo, 'api.token')
    const cases: Array<[string, RegExp]> = [['', /it was empty/], ['abc123', /it was 6 characters long, fewer than 32/], ['a token with spaces in it, long enough', /it held characters other than visible ASCII/]]
    for (const [text, why] of cases) {
      await fs.writeFile(file, text + '\n', { mode: 0o644 })
      const d = scope.track(await DaemonProcess.start(repo, ['--api', '/ip4/127.0.0.1/tcp/0']))
      assert.match(await d.logged(/replaced .*api\.token/), new RegExp(`with a fresh random token: ${why.source}; clients of the TCP API must read the new one`))
      const fresh = (await fs.readFile(file, 'utf8')).trim()
      assert.match(fresh, /^[0-9a-f]{64}$/)
      assert.equal((await fs.stat(file)).mode & 0o777, 0o600)
      const api = /api on (http:\/\/\S+)/.exec(d.log)![1]
      assert.equal((await request(api, {})).status, 401, `no token (${JSON.stringify(text)} was in the file)`)
      assert.equal((await request(api, { authorization: 'Bearer ' })).status, 401)
      if (text !== '') assert.equal((await request(api, { authorization: `Bearer ${text}` })).status, 401, 'the old token')
      assert.equal((await request(api, { authorization: `Bearer ${fresh}` })).status, 200)
      await d.kill('SIGTERM')
    }
  })
})
