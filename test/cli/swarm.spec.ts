import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DaemonProcess, sha256File, shoalOk, shoalStreaming, summaryOf, useDaemons } from '../helpers/cli.js'

const MiB = 1024 * 1024

async function stat (repo: string): Promise<any> {
  return JSON.parse((await shoalOk(['stat', '--repo', repo, '--json'])).stdout)
}

/**
 * Swarming downloads with real daemons: many sources at once, sources that
 * die or lie, a downloader killed and restarted, downloaders that feed each
 * other.
 */
describe('cli: swarming downloads', function () {
  this.timeout(180_000)
  const scope = useDaemons({ perTest: true })
  const repo = (name: string): string => scope.repo(name)
  const start = scope.start

  async function writeInput (size: number): Promise<string> {
    const file = path.join(scope.dir, 'input')
    await fs.writeFile(file, randomBytes(size))
    return file
  }

  it('four seeders, one killed mid-transfer and one serving corrupt blocks: the get completes and the liar is banned', async () => {
    const input = await writeInput(40 * MiB)
    const limit = ['--max-upload-rate', '8MB']
    const s1 = await start('s1', limit)
    const s2 = await start('s2', [...limit, '--bootstrap', s1.addresses[0]])
    const s3 = await start('s3', [...limit, '--bootstrap', s1.addresses[0]])
    const liar = scope.track(await DaemonProcess.startCorrupt(repo('liar'), ['--bootstrap', s1.addresses[0]]))
    let cid = ''
    for (const name of ['s1', 's2', 's3', 'liar']) {
      cid = JSON.parse((await shoalOk(['add', '--repo', repo(name), input, '--json'])).stdout).cid
    }
    await start('d', ['--bootstrap', s1.addresses[0]])
    // connected to every seeder before the get starts, so each is asked for blocks
    for (const s of [s1, s2, s3, liar]) await shoalOk(['connect', '--repo', repo('d'), s.addresses[0]])

    const out = path.join(scope.dir, 'out')
    let killed = false
    const got = await shoalStreaming(['get', '--repo', repo('d'), cid, '-o', out, '--json', '--timeout', '60'], line => {
      const event = JSON.parse(line)
      if (!killed && event.type === 'progress' && event.blocksDone >= 10) {
        killed = true
        void s2.kill('SIGKILL')
      }
    })
    assert.equal(got.code, 0, got.stderr)
    assert.ok(killed, 'a seeder was killed mid-transfer')
    assert.equal(await sha256File(out), await sha256File(input))

    const summary = summaryOf(got)
    const from = new Map<string, number>(summary.peers.map((p: any) => [p.peerId, p.bytes]))
    // the liar serves interior nodes honestly and corrupts every leaf: no leaf of it was kept
    assert.ok((from.get(liar.peerId) ?? 0) < MiB, `no leaf from the liar was kept (${from.get(liar.peerId)} bytes)`)
    assert.ok((from.get(s1.peerId) ?? 0) > 0 && (from.get(s3.peerId) ?? 0) > 0, `pulled from several seeders: ${JSON.stringify(summary.peers)}`)
    const banned = (await stat(repo('d'))).banned.map((b: any) => b.peer)
    assert.deepEqual(banned, [liar.peerId])
    const peers = JSON.parse((await shoalOk(['peers', '--repo', repo('d'), '--json'])).stdout).map((p: any) => p.peerId)
    assert.ok(!peers.includes(liar.peerId), 'the liar was disconnected')
  })

  it('a seeder that stalls is dropped after the request timeout, not banned; the get completes from the others', async () => {
    // the honest seeder alone needs about 8 s, far longer than the request timeout
    const input = await writeInput(32 * MiB)
    const s1 = await start('s1', ['--max-upload-rate', '4MB'])
    const staller = scope.track(await DaemonProcess.startStalling(repo('staller'), ['--bootstrap', s1.addresses[0]]))
    let cid = ''
    for (const name of ['s1', 'staller']) {
      cid = JSON.parse((await shoalOk(['add', '--repo', repo(name), input, '--json'])).stdout).cid
    }
    // the downloader gives a request 2 s (default 30 s)
    await shoalOk(['init', '--repo', repo('d')])
    const configFile = path.join(repo('d'), 'config.json')
    const config = JSON.parse(await fs.readFile(configFile, 'utf8'))
    config.limits.requestTimeout = 2_000
    await fs.writeFile(configFile, JSON.stringify(config))
    await start('d', ['--bootstrap', s1.addresses[0]])
    for (const s of [s1, staller]) await shoalOk(['connect', '--repo', repo('d'), s.addresses[0]])

    const out = path.join(scope.dir, 'out')
    const got = await shoalStreaming(['get', '--repo', repo('d'), cid, '-o', out, '--json', '--timeout', '60'], () => {})
    assert.equal(got.code, 0, got.stderr)
    assert.equal(await sha256File(out), await sha256File(input))
    const summary = summaryOf(got)
    // dropped for its silence (and maybe again later, when asked once more after its time out)
    assert.ok(summary.dropped.some((d: any) => d.peerId === staller.peerId && d.reason === 'request timed out'), JSON.stringify(summary.dropped))
    const fromStaller = summary.peers.find((p: any) => p.peerId === staller.peerId)?.bytes ?? 0
    assert.ok(fromStaller < MiB, `no leaf came from the staller (${fromStaller} bytes)`)
    assert.deepEqual((await stat(repo('d'))).banned, [], 'slow is not a lie: nobody is banned')
  })

  it('a downloader killed with SIGKILL halfway resumes after restart without refetching stored blocks', async () => {
    const input = await writeInput(30 * MiB)
    const s = await start('s', ['--max-upload-rate', '10MB'])
    const { cid } = JSON.parse((await shoalOk(['add', '--repo', repo('s'), input, '--json'])).stdout)
    const d1 = await start('d', ['--bootstrap', s.addresses[0]])

    let killed = false
    const first = await shoalStreaming(['get', '--repo', repo('d'), cid, '-o', path.join(scope.dir, 'out'), '--json'], line => {
      const event = JSON.parse(line)
      if (!killed && event.type === 'progress' && event.blocksDone >= 12) {
        killed = true
        void d1.kill('SIGKILL')
      }
    })
    assert.ok(killed)
    assert.notEqual(first.code, 0, 'the interrupted get failed')
    await assert.rejects(fs.access(path.join(scope.dir, 'out')), 'no output under the final name')

    await fs.access(path.join(scope.dir, 'out.part'))
    await start('d', ['--bootstrap', s.addresses[0]])
    assert.equal((await stat(repo('d'))).blocks, 1, 'the repo holds the root; the leaves are in out.part')

    const second = summaryOf(await shoalOk(['get', '--repo', repo('d'), cid, '-o', path.join(scope.dir, 'out'), '--json']))
    assert.equal(await sha256File(path.join(scope.dir, 'out')), await sha256File(input))
    const held = second.blocksAlreadyHeld
    assert.ok(held >= 12 && held < 31, `blocks kept across the kill: ${held}`)
    assert.equal(second.blocksFetched, 31 - held, 'only the missing blocks were fetched')
    const third = summaryOf(await shoalOk(['get', '--repo', repo('d'), cid, '-o', path.join(scope.dir, 'again'), '--json']))
    assert.equal(third.bytesFetched, 0, 'a third get fetches nothing')
  })

  it('two downloaders of the same file exchange chunks with each other', async () => {
    const input = await writeInput(24 * MiB)
    const s = await start('s', ['--max-upload-rate', '4MB'])
    const { cid } = JSON.parse((await shoalOk(['add', '--repo', repo('s'), input, '--json'])).stdout)
    const d1 = await start('d1', ['--bootstrap', s.addresses[0]])
    const d2 = await start('d2', ['--bootstrap', s.addresses[0]])

    const [g1, g2] = await Promise.all(['d1', 'd2'].map(async name => await shoalOk(['get', '--repo', repo(name), cid, '-o', path.join(scope.dir, `out-${name}`), '--json'], { timeout: 120_000 })))
    for (const name of ['d1', 'd2']) assert.equal(await sha256File(path.join(scope.dir, `out-${name}`)), await sha256File(input))
    const from1 = new Map<string, number>(summaryOf(g1).peers.map((p: any) => [p.peerId, p.bytes]))
    const from2 = new Map<string, number>(summaryOf(g2).peers.map((p: any) => [p.peerId, p.bytes]))
    assert.ok((from1.get(d2.peerId) ?? 0) > 0, `d1 got bytes from d2: ${JSON.stringify([...from1])}`)
    assert.ok((from2.get(d1.peerId) ?? 0) > 0, `d2 got bytes from d1: ${JSON.stringify([...from2])}`)
    const seederSent = (await stat(repo('s'))).bytesSent
    assert.ok(seederSent < 2 * 24 * MiB, `the seeder sent less than two full copies (${seederSent} bytes)`)
  })
})
