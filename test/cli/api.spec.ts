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
})
