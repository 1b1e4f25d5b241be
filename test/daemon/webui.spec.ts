import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { DaemonProcess, sha256File, shoal, shoalOk, useDaemons } from '../helpers/cli.js'
import type { Browser } from 'playwright-core'

const CHROMIUM = '/usr/bin/chromium'
/** Screenshots of the page, kept after the run (CI's artifacts; the README shows one). */
const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test-artifacts')
const MiB = 1024 * 1024

/** The flags this machine's closed network needs (no background connections, no sandbox as root). */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/**
 * What a hostile page served on the web page's site would try, reported as
 * text: its own origin, planting a session cookie for the page's host (cookies
 * know no ports), reading the page's API with the browser's cookies, and
 * removing a pin by a request whose answer it need not read.
 */
async function attack ({ base, cid }: { base: string, cid: string }): Promise<Record<string, string>> {
  const out: Record<string, string> = { origin: self.origin }
  try {
    document.cookie = 'shoal_session=planted; path=/v1'
    out.cookie = document.cookie.includes('planted') ? 'planted' : 'ignored'
  } catch (err: any) {
    out.cookie = `refused: ${err.name}`
  }
  try {
    const res = await fetch(`${base}/v1/id`, { credentials: 'include' })
    out.read = `read ${res.status}: ${await res.text()}`
  } catch (err: any) {
    out.read = `failed: ${err.message}`
  }
  try {
    const res = await fetch(`${base}/v1/rm`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ cid }) })
    out.rm = `sent (${res.type})`
  } catch (err: any) {
    out.rm = `failed: ${err.message}`
  }
  return out
}

/** Sign in as a browser would, through a fresh link: the page's origin and the session cookie (`name=value`). */
async function signIn (repo: string): Promise<{ base: string, cookie: string }> {
  const link = JSON.parse((await shoalOk(['webui', '--json', '--repo', repo])).stdout).url as string
  const login = await fetch(link, { redirect: 'manual' })
  assert.equal(login.status, 303)
  return { base: new URL(link).origin, cookie: login.headers.get('set-cookie')!.split(';')[0] }
}

describe('daemon: the web page, in a real browser (headless Chromium)', function () {
  this.timeout(240_000)
  const scope = useDaemons()
  let browser: Browser | undefined

  after(async () => { await browser?.close() })

  it('signs in by a one-time link, shows peers and replica health live, fetches and uploads, follows a killed holder, and reconnects after a restart', async () => {
    await fs.access(CHROMIUM).catch(() => { throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`) })
    await fs.mkdir(ARTIFACTS, { recursive: true })
    const key = path.join(scope.dir, 'group.key')
    await fs.writeFile(key, (await shoalOk(['group-key'])).stdout, { mode: 0o600 })
    const args = ['--group-key', key, '--check-interval', '0.5', '--grace-period', '60']
    // the page's daemon downloads at 2 MiB/s, so a transfer is seen under way
    const slow = ['--max-download-rate', '2MiB']
    let a = await scope.start('a', [...args, ...slow])
    const b = await scope.start('b', [...args, '--bootstrap', a.addresses[0]])
    const c = await scope.start('c', [...args, '--bootstrap', a.addresses[0]])

    // a root kept by all three (K = 3), and a file only b holds, for the page to fetch
    const kept = path.join(scope.dir, 'kept.bin')
    await fs.writeFile(kept, randomBytes(2 * MiB))
    const keptCid = JSON.parse((await shoalOk(['add', kept, '--replicas', '3', '--json', '--repo', a.repo])).stdout).cid
    const remote = path.join(scope.dir, 'remote.bin')
    await fs.writeFile(remote, randomBytes(3 * MiB + 17))
    const remoteCid = JSON.parse((await shoalOk(['add', remote, '--json', '--repo', b.repo])).stdout).cid
    const big = path.join(scope.dir, 'big.bin')
    await fs.writeFile(big, randomBytes(24 * MiB))
    const bigCid = JSON.parse((await shoalOk(['add', big, '--json', '--repo', b.repo])).stdout).cid

    const link = JSON.parse((await shoalOk(['webui', '--json', '--repo', a.repo])).stdout).url as string
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/login\?ticket=/)
    const base = new URL(link).origin

    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
    const problems: string[] = []
    page.on('console', msg => { if (msg.type() === 'error') problems.push(`console: ${msg.text()} (${msg.location().url})`) })
    page.on('pageerror', err => { problems.push(`page: ${err.message}`) })

    // before signing in the page refuses; the link signs in once and leaves no token in the address bar
    assert.equal((await page.goto(base))?.status(), 401)
    await page.goto(link)
    assert.equal(page.url(), `${base}/`)
    await page.waitForSelector('#live.live', { timeout: 15_000 })
    assert.equal((await page.goto(link))?.status(), 401, 'a link works once')
    await page.goto(base)
    await page.waitForSelector('#live.live')
    // the two refusals above were asked for (the browser logs a 401 as an error); from here on none is
    assert.equal(problems.length, 2, problems.join('\n'))
    problems.length = 0

    // this peer and its peers
    assert.equal(await page.textContent('#peer-id'), a.peerId)
    for (const peer of [b, c]) await page.waitForSelector(`#peers tr[data-peer="${peer.peerId}"]`)
    // the replicated root, ok with three complete copies
    const keptRow = `#pins tr[data-cid="${keptCid}"]`
    await page.waitForSelector(`${keptRow} .health.ok`, { timeout: 60_000 })
    assert.match(await page.textContent(keptRow) ?? '', /3 of 3/)

    // a fetch under way shows in Transfers with its progress and rate; Cancel stops it
    await page.fill('#fetch-cid', bigCid)
    await page.click('#fetch-form button')
    const bigRow = `#transfers tr[data-root="${bigCid}"]`
    await page.waitForFunction(selector => /[1-9][0-9.]* [KM]iB\/s/.test(document.querySelector(selector)?.textContent ?? ''), bigRow, { timeout: 30_000 })
    await page.screenshot({ path: path.join(ARTIFACTS, 'webui.png'), fullPage: true })
    await page.click(`${bigRow} button.danger`)
    await page.waitForSelector(`#jobs li[data-cid="${bigCid}"][data-state="cancelled"]`, { timeout: 15_000 })
    await page.waitForSelector(bigRow, { state: 'detached' })

    // fetch by CID from the page: the daemon writes it to its downloads folder, every byte verified
    await page.fill('#fetch-cid', remoteCid)
    await page.click('#fetch-form button')
    await page.waitForSelector(`#jobs li[data-cid="${remoteCid}"][data-state="done"]`, { timeout: 60_000 })
    assert.equal(await sha256File(path.join(a.repo, 'downloads', remoteCid)), await sha256File(remote))
    await page.waitForSelector(`#pins tr[data-cid="${remoteCid}"]`)

    // upload a file: stored and added like `shoal add`, pinned, and its CID shown
    const upload = path.join(scope.dir, 'notes from the page.txt')
    await fs.writeFile(upload, 'shared through the web page\n')
    await page.setInputFiles('#upload-input', upload)
    const uploaded = await page.waitForSelector('#jobs li[data-state="done"]:not([data-cid=""]):not([data-cid="' + remoteCid + '"])', { timeout: 30_000 })
    const uploadedCid = await uploaded.getAttribute('data-cid')
    const pins = JSON.parse((await shoalOk(['ls', '--json', '--repo', a.repo])).stdout)
    assert.ok(pins.some((p: any) => p.cid === uploadedCid && p.name === 'notes from the page.txt' && p.reasons.includes('user')), JSON.stringify(pins))

    // a holder killed: the page shows the root under-replicated, the holder absent and when it is replaced
    await c.kill('SIGKILL')
    await page.waitForSelector(`${keptRow} .health.under-replicated`, { timeout: 30_000 })
    assert.match(await page.textContent(keptRow) ?? '', /absent .*replaced in/)
    await page.screenshot({ path: path.join(ARTIFACTS, 'webui-under-replicated.png'), fullPage: true })
    assert.deepEqual(problems, [], 'no console errors while the daemon served')

    // a phone-sized screen: nothing wider than the screen
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true })
    await phone.context().addCookies(await page.context().cookies())
    await phone.goto(base)
    await phone.waitForSelector('#live.live')
    const width = await phone.evaluate(() => document.documentElement.scrollWidth)
    assert.ok(width <= 391, `no sideways scrolling on a phone: the page is ${width} px wide on a 390 px screen`)
    await phone.screenshot({ path: path.join(ARTIFACTS, 'webui-phone.png'), fullPage: true })
    await phone.close()

    // the daemon restarts: the page says it lost it, then finds it again (same port, same session)
    await a.kill('SIGKILL')
    await page.waitForSelector('#live.down', { timeout: 15_000 })
    a = scope.track(await DaemonProcess.start(a.repo, [...args, ...slow]))
    await page.waitForSelector('#live.live', { timeout: 30_000 })
    await page.waitForSelector(`#pins tr[data-cid="${uploadedCid}"]`)
    const afterRestart = problems.filter(p => !/\/events|ERR_CONNECTION_REFUSED/.test(p))
    assert.deepEqual(afterRestart, [], 'no console errors but the feed\'s while the daemon was down')

    // remove a pin from the page (the confirm dialog accepted)
    page.once('dialog', dialog => { void dialog.accept() })
    await page.click(`#pins tr[data-cid="${uploadedCid}"] button.danger`)
    await page.waitForSelector(`#pins tr[data-cid="${uploadedCid}"]`, { state: 'detached', timeout: 15_000 })
    assert.ok(await fs.stat(path.join(a.repo, 'uploads', 'notes from the page.txt')), 'the uploaded file itself stays: rm drops the pin, never a file')
    const gone = await shoal(['ls', '--json', '--repo', a.repo])
    assert.ok(!JSON.parse(gone.stdout).some((p: any) => p.cid === uploadedCid))

    // the owner signs every browser out: the open page says so at once
    await shoalOk(['webui', '--revoke', '--repo', a.repo])
    await page.waitForSelector('#live.signed-out', { timeout: 15_000 })
    assert.match(await page.textContent('#error') ?? '', /signed out .*run `shoal webui` for a new link/)
    await page.screenshot({ path: path.join(ARTIFACTS, 'webui-signed-out.png') })
  })

  it('refuses a foreign Host or Origin, and a request without a session', async () => {
    const d = await scope.start('guarded')
    const link = JSON.parse((await shoalOk(['webui', '--json', '--repo', d.repo])).stdout).url as string
    const base = new URL(link).origin
    const login = await fetch(link, { redirect: 'manual' })
    assert.equal(login.status, 303)
    const session = login.headers.get('set-cookie')!.split(';')[0]
    assert.match(login.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict; Path=\/; Max-Age=86400$/)
    assert.equal((await fetch(`${base}/v1/id`, { headers: { cookie: session } })).status, 200)
    assert.equal((await fetch(`${base}/v1/id`)).status, 401, 'no session')
    assert.equal((await fetch(`${base}/v1/id`, { headers: { cookie: `${session.slice(0, -2)}xx` } })).status, 401, 'a forged session')
    // a session signed with the repo's key lasts at most a day: one that claims a week (as sessions once did) is refused
    const key = Buffer.from((await fs.readFile(path.join(d.repo, 'webui.secret'), 'utf8')).trim(), 'hex')
    const signed = (until: number): string => `shoal_session=${until}.${createHmac('sha256', key).update(`shoal-webui-session:${until}`).digest('base64url')}`
    assert.equal((await fetch(`${base}/v1/id`, { headers: { cookie: signed(Date.now() + 3600_000) } })).status, 200, 'signed with the key, an hour left')
    assert.equal((await fetch(`${base}/v1/id`, { headers: { cookie: signed(Date.now() + 6 * 24 * 3600_000) } })).status, 401, 'six days left')
    assert.equal((await fetch(`${base}/v1/id`, { headers: { cookie: signed(Date.now() - 1000) } })).status, 401, 'expired')
    const post = async (headers: Record<string, string>): Promise<number> => (await fetch(`${base}/v1/cancel`, { method: 'POST', headers: { cookie: session, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' }) })).status
    assert.equal(await post({ origin: 'http://evil.example' }), 403, 'another site')
    assert.equal(await post({}), 403, 'a change without an Origin')
    assert.equal(await post({ origin: base }), 200, 'the page itself')
    // DNS rebinding: a name that resolves here but is not the page's
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/v1/id`, { headers: { host: `attacker.example:${new URL(base).port}`, cookie: session } }, res => { res.resume(); resolve(res.statusCode ?? 0) })
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 403)
  })

  it('a web session reaches only the page\'s folders: no add, get or import of a path it names, no force; the owner\'s command line keeps them', async () => {
    const d = await scope.start('reach')
    const { base, cookie } = await signIn(d.repo)
    const call = async (route: string, body: unknown): Promise<{ status: number, name?: string }> => {
      const res = await fetch(`${base}${route}`, { method: 'POST', headers: { cookie, origin: base, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const text = await res.text()
      return { status: res.status, name: text.startsWith('{') ? JSON.parse(text.split('\n')[0]).error?.name : undefined }
    }
    const mine = path.join(scope.dir, 'owner only.txt')
    await fs.writeFile(mine, 'for the owner\'s eyes\n')
    const held = path.join(scope.dir, 'held.bin')
    await fs.writeFile(held, randomBytes(64 * 1024))
    const cid = JSON.parse((await shoalOk(['add', held, '--json', '--repo', d.repo])).stdout).cid as string
    const outside = path.join(scope.dir, 'written by the page')
    await fs.writeFile(outside, 'was here first\n')

    // what names a path, signs browsers in or out, or dials: refused, and nothing happened
    assert.deepEqual(await call('/v1/add', { path: mine }), { status: 403, name: 'Forbidden' })
    assert.deepEqual(await call('/v1/get', { cid, output: outside, force: true }), { status: 403, name: 'Forbidden' })
    assert.deepEqual(await call('/v1/get', { cid, output: path.join(d.repo, 'downloads', 'x'), force: true }), { status: 403, name: 'Forbidden' })
    assert.deepEqual(await call('/v1/import', { path: mine }), { status: 403, name: 'Forbidden' })
    assert.deepEqual(await call('/v1/webui', {}), { status: 403, name: 'Forbidden' }, 'a session cannot mint more sessions')
    assert.deepEqual(await call('/v1/webui/revoke', {}), { status: 403, name: 'Forbidden' })
    assert.deepEqual(await call('/v1/connect', { address: d.addresses[0] }), { status: 403, name: 'Forbidden' })
    assert.deepEqual(await call('/v1/gc', {}), { status: 403, name: 'Forbidden' })
    assert.equal(await fs.readFile(outside, 'utf8'), 'was here first\n')
    const pins = JSON.parse((await shoalOk(['ls', '--json', '--repo', d.repo])).stdout)
    assert.deepEqual(pins.map((p: any) => p.cid), [cid], 'the page added nothing')

    // what the page's buttons use still works
    assert.equal((await call('/v1/cancel', { cid })).status, 200)
    assert.equal((await fetch(`${base}/v1/ls`, { headers: { cookie } })).status, 200)
    // the page's own fetch and upload choose the path: REPO/downloads/<cid>, REPO/uploads/<name>
    assert.deepEqual(await call('/ui/fetch', { cid: `${cid}/../../escape` }), { status: 400, name: 'InvalidCIDError' })
    const up = await fetch(`${base}/ui/upload?name=${encodeURIComponent('../../escape.txt')}`, { method: 'POST', headers: { cookie, origin: base }, body: 'uploaded\n' })
    assert.equal(up.status, 200)
    assert.equal((await up.json()).output, path.join(d.repo, 'uploads', 'escape.txt'))
    assert.equal(await fs.readFile(path.join(d.repo, 'uploads', 'escape.txt'), 'utf8'), 'uploaded\n')
    await assert.rejects(fs.access(path.join(scope.dir, 'escape.txt')))

    // the owner's command line keeps its full reach
    await shoalOk(['get', cid, '-o', outside, '--force', '--repo', d.repo])
    assert.equal(await sha256File(outside), await sha256File(held))
    await shoalOk(['add', mine, '--repo', d.repo])
  })

  it('replaces a webui.secret that is no key (empty, not hex, short) at start and says so; a session signed with the empty key it decoded to is refused', async () => {
    const repo = scope.repo('weak-secret')
    await shoalOk(['init', '--repo', repo])
    const file = path.join(repo, 'webui.secret')
    const cases: Array<[string, RegExp]> = [['', /it was empty/], ['not hex at all', /it was not hex/], ['abcd', /it held 2 bytes, not 32/]]
    for (const [text, why] of cases) {
      await fs.writeFile(file, text + '\n', { mode: 0o644 })
      const d = scope.track(await DaemonProcess.start(repo))
      assert.match(await d.logged(/replaced .*webui\.secret/), new RegExp(`with a fresh random secret: ${why.source}; browsers must sign in again`))
      assert.match((await fs.readFile(file, 'utf8')).trim(), /^[0-9a-f]{64}$/)
      assert.equal((await fs.stat(file)).mode & 0o777, 0o600)
      const { base, cookie } = await signIn(repo)
      const until = Date.now() + 3600_000
      const forged = `shoal_session=${until}.${createHmac('sha256', Buffer.alloc(0)).update(`shoal-webui-session:${until}`).digest('base64url')}`
      assert.equal((await fetch(`${base}/v1/id`, { headers: { cookie: forged } })).status, 401, `a session signed with no key (${JSON.stringify(text)})`)
      assert.equal((await fetch(`${base}/v1/id`, { headers: { cookie } })).status, 200)
      await d.kill('SIGTERM')
    }
    // a sound secret is kept, and the sessions it signed with it
    const d = scope.track(await DaemonProcess.start(repo))
    const { base, cookie } = await signIn(repo)
    const kept = await fs.readFile(file, 'utf8')
    await d.kill('SIGTERM')
    const again = scope.track(await DaemonProcess.start(repo))
    assert.equal(await fs.readFile(file, 'utf8'), kept)
    assert.equal((await fetch(`${base}/v1/id`, { headers: { cookie } })).status, 200)
    assert.doesNotMatch(again.log, /replaced/)
  })

  it('a hostile HTML file served by the gateway, on the web page\'s site, runs no script and can neither read nor drive the page', async () => {
    const d = await scope.start('hostile', ['--gateway', '/ip4/127.0.0.1/tcp/0'])
    const gateway = /trustless gateway on (http:\/\/\S+)\/ipfs\//.exec(d.log)![1]
    const held = path.join(scope.dir, 'held by the victim.bin')
    await fs.writeFile(held, randomBytes(4096))
    const heldCid = JSON.parse((await shoalOk(['add', held, '--json', '--repo', d.repo])).stdout).cid as string
    const link = JSON.parse((await shoalOk(['webui', '--json', '--repo', d.repo])).stdout).url as string
    const base = new URL(link).origin
    assert.equal(new URL(gateway).hostname, new URL(base).hostname, 'the same site: one host, two ports')
    // a shared folder with an HTML page in it, as anyone may publish
    const site = path.join(scope.dir, 'site')
    await fs.mkdir(site)
    const hostile = path.join(site, 'index.html')
    await fs.writeFile(hostile, `<!doctype html><meta charset="utf-8"><title>hostile</title><p id="report">no script ran</p>
<script>(${attack.toString()})(${JSON.stringify({ base, cid: heldCid })}).then(r => { document.getElementById('report').textContent = JSON.stringify(r) })</script>\n`)
    const siteCid = JSON.parse((await shoalOk(['add', site, '-r', '--json', '--repo', d.repo])).stdout).cid as string

    browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    const context = await browser.newContext()
    try {
      // the victim is signed in to the web page: the browser holds its session cookie for this host
      const page = await context.newPage()
      await page.goto(link)
      await page.waitForSelector('#live.live')
      assert.equal((await context.cookies(base)).length, 1)

      const served = await page.goto(`${gateway}/ipfs/${siteCid}/index.html`)
      assert.equal(served?.status(), 200)
      assert.equal(served?.headers()['content-security-policy'], 'sandbox')
      assert.equal(served?.headers()['x-content-type-options'], 'nosniff')
      assert.match(served?.headers()['content-type'] ?? '', /^text\/html/)
      // its script would have reported by now had it run (the page has loaded)
      assert.equal(await page.textContent('#report'), 'no script ran')

      // the same code, run in the document anyway (as a debugger can): an opaque origin, refused everything
      const result = await page.evaluate(attack, { base, cid: heldCid })
      assert.equal(result.origin, 'null')
      assert.match(result.cookie, /^refused: SecurityError/)
      assert.match(result.read, /^failed: /)
      assert.match(result.rm, /^(sent \(opaque\)|failed: )/)
      const pins = JSON.parse((await shoalOk(['ls', '--json', '--repo', d.repo])).stdout)
      assert.ok(pins.some((p: any) => p.cid === heldCid), 'the pin is still there')
      assert.ok(pins.some((p: any) => p.cid === siteCid))
      assert.deepEqual((await context.cookies(base)).map(c => c.value.length > 20), [true], 'no cookie planted beside the session')
    } finally {
      await context.close()
    }
  })
})
