import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { DaemonProcess, shoal, shoalOk, useDaemons } from '../helpers/cli.js'

/** A fresh one-time link from `shoal webui`. */
async function link (repo: string): Promise<string> {
  return JSON.parse((await shoalOk(['webui', '--json', '--repo', repo])).stdout).url
}

/** Spend a link as a browser would: the session cookie (`name=value`). */
async function signIn (url: string): Promise<string> {
  const login = await fetch(url, { redirect: 'manual' })
  assert.equal(login.status, 303, `signing in with ${url}`)
  return login.headers.get('set-cookie')!.split(';')[0]
}

async function statusOf (base: string, cookie: string): Promise<number> {
  return (await fetch(`${base}/v1/id`, { headers: { cookie } })).status
}

/** Open the page's live feed with `cookie`: resolves with the response once its first snapshot arrived. */
async function openFeed (base: string, cookie: string): Promise<http.IncomingMessage> {
  return await new Promise((resolve, reject) => {
    const req = http.get(`${base}/events`, { headers: { cookie, accept: 'text/event-stream' } }, res => {
      if (res.statusCode !== 200) reject(new Error(`the feed answered ${res.statusCode}`))
      res.setEncoding('utf8')
      const onData = (text: string): void => {
        if (!text.includes('event: snapshot')) return
        res.off('data', onData)
        resolve(res)
      }
      res.on('data', onData)
    })
    req.on('error', reject)
  })
}

describe('cli: shoal webui', function () {
  this.timeout(120_000)
  const scope = useDaemons()

  it('--revoke ends every session and unused link at once, open pages included, and a restart does not bring them back', async () => {
    const repo = scope.repo('revoke')
    let d = await scope.start('revoke')
    const first = await link(repo)
    const base = new URL(first).origin
    const cookie = await signIn(first)
    const other = await signIn(await link(repo))
    const unused = await link(repo)
    assert.equal(await statusOf(base, cookie), 200)
    assert.equal(await statusOf(base, other), 200)
    const feed = await openFeed(base, cookie)
    const feedEnded = new Promise<void>(resolve => { feed.once('end', resolve); feed.resume() })

    const revoked = await shoalOk(['webui', '--revoke', '--repo', repo])
    assert.match(revoked.stdout, /every web page session ended: run `shoal webui` to sign a browser in again/)
    await d.logged(/revoked every web page session/)
    await feedEnded
    assert.equal(await statusOf(base, cookie), 401)
    assert.equal(await statusOf(base, other), 401)
    assert.equal((await fetch(unused, { redirect: 'manual' })).status, 401, 'a link minted before is void too')
    const after = await signIn(await link(repo))
    assert.equal(await statusOf(base, after), 200, 'a link minted after signs in')

    // a restart reads the secret from the repo: what was revoked stays revoked
    await d.kill('SIGTERM')
    d = scope.track(await DaemonProcess.start(repo))
    assert.equal(new URL(await link(repo)).origin, base, 'the page is on its old port')
    assert.equal(await statusOf(base, cookie), 401)
    assert.equal(await statusOf(base, after), 200)
  })

  it('--revoke with no page served still ends the sessions a page served later would accept', async () => {
    const repo = scope.repo('no-page')
    let d = await scope.start('no-page')
    const url = await link(repo)
    const base = new URL(url).origin
    const cookie = await signIn(url)
    await d.kill('SIGTERM')
    d = scope.track(await DaemonProcess.start(repo, ['--webui', '']))
    const json = JSON.parse((await shoalOk(['webui', '--revoke', '--json', '--repo', repo])).stdout)
    assert.deepEqual(json, { revoked: true, served: false })
    await d.kill('SIGTERM')
    d = scope.track(await DaemonProcess.start(repo))
    assert.equal(new URL(await link(repo)).origin, base)
    assert.equal(await statusOf(base, cookie), 401)
  })

  it('--revoke with --open is a usage error; with no daemon running, one line saying so', async () => {
    const both = await shoal(['webui', '--revoke', '--open', '--repo', scope.repo('none')])
    assert.equal(both.code, 2)
    assert.match(both.stderr, /^shoal: Arguments revoke and open are mutually exclusive/)
    const none = await shoal(['webui', '--revoke', '--repo', scope.repo('none')])
    assert.notEqual(none.code, 0)
    assert.match(none.stderr, /^shoal: no Shoal daemon is running for repo/)
    await assert.rejects(fs.access(path.join(scope.repo('none'), 'webui.secret')), 'nothing was written without a daemon')
  })
})
