import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { byDistance } from '../../src/replication/keyspace.js'
import { repoPaths } from '../../src/store/repo-layout.js'
import { DaemonProcess, loopbackHost, shoal, shoalOk, useDaemons } from '../helpers/cli.js'

async function logged (daemon: DaemonProcess, pattern: RegExp): Promise<string> {
  return await daemon.logged(pattern)
}

/** A TCP port nothing listens on. */
async function closedPort (host: string): Promise<number> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, host, resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise(resolve => server.close(resolve))
  return port
}

describe('cli: the daemon says what it does', function () {
  this.timeout(120_000)
  const scope = useDaemons()

  it('logs peers, replicas taken, holders lost, repairs started and finished, one line each', async () => {
    const key = path.join(scope.dir, 'group.key')
    await fs.writeFile(key, (await shoalOk(['group-key'])).stdout)
    const fast = ['--group-key', key, '--check-interval', '0.3', '--grace-period', '1']
    const first = await scope.start('l0', fast)
    const daemons = [first]
    for (let i = 1; i < 4; i++) daemons.push(await scope.start(`l${i}`, [...fast, '--bootstrap', first.addresses[0]]))
    assert.match(await logged(first, / info +peer connected peer=12D3/), /address=\/ip4\//)

    // a file whose two closest peers leave the adder out: they take copies and the adder's copy is trimmed
    const file = path.join(scope.dir, 'logged')
    let bytes: Buffer, closest: DaemonProcess[]
    do {
      bytes = randomBytes(1024 * 1024)
      const root = CID.create(1, raw.code, await sha256.digest(bytes))
      closest = byDistance(root, daemons.map(d => ({ peer: peerIdFromString(d.peerId), d }))).slice(0, 2).map(p => p.d)
    } while (closest.includes(first))
    await fs.writeFile(file, bytes)
    const added = JSON.parse((await shoalOk(['add', file, '--replicas', '2', '--json', '--repo', first.repo])).stdout)
    for (const holder of closest) {
      await logged(first, new RegExp(`peer took a copy root=${added.cid} peer=${holder.peerId} state=fetching`))
      await logged(holder, new RegExp(`took a copy to keep root=${added.cid} for=${first.peerId} state=fetching`))
      await logged(holder, new RegExp(`copy complete root=${added.cid}`))
    }
    await logged(first, new RegExp(`released our copy root=${added.cid}`))

    // one holder dies: the other notices, waits out the grace period, and repairs
    const [taker, survivor] = closest
    await taker.kill('SIGKILL')
    await logged(survivor, new RegExp(` warn +holder not answering peer=${taker.peerId}`))
    await logged(survivor, new RegExp(` warn +holder gone past the grace period; its copy no longer counts root=${added.cid} peer=${taker.peerId}`))
    await logged(survivor, new RegExp(`repair started root=${added.cid} copies=1 wanted=2`))
    await logged(survivor, new RegExp(`peer took a copy root=${added.cid}`))
    await logged(survivor, new RegExp(`repair finished root=${added.cid} copies=2`))
  })

  it('--ready-fd gets one JSON line once the daemon serves: its peer id, addresses and API socket; a bad descriptor is one clear line', async () => {
    // DaemonProcess starts every daemon with --ready-fd 3 and takes its addresses from the event
    const d = await scope.start('ready')
    assert.ok(peerIdFromString(d.peerId) != null)
    assert.ok(d.addresses.length > 0 && d.addresses.every(a => a.endsWith(`/p2p/${d.peerId}`)), d.addresses.join(' '))
    const id = JSON.parse((await shoalOk(['id', '--repo', d.repo, '--json'])).stdout)
    assert.equal(id.peerId, d.peerId)
    assert.equal(d.api, repoPaths(d.repo).apiSocket)
    const bad = await shoal(['daemon', '--repo', scope.repo('bad-fd'), '--ready-fd', '1'])
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /--ready-fd must be an open file descriptor of 3 or more/)
  })

  it('--log-format json writes one JSON object per line; --log-level warn leaves info out', async () => {
    const json = await scope.start('json', ['--log-format', 'json'])
    await json.logged(/"msg":"ready"/)
    const lines = json.log.trim().split('\n')
    for (const line of lines) {
      const entry = JSON.parse(line)
      assert.ok(typeof entry.time === 'string' && typeof entry.level === 'string' && typeof entry.msg === 'string', line)
    }
    assert.ok(lines.some(l => JSON.parse(l).msg === 'ready'))
    // at warn, a dead bootstrap peer is reported, and nothing at info (not even "ready")
    const host = loopbackHost()
    const dead = `/ip4/${host}/tcp/${await closedPort(host)}/p2p/${json.peerId}`
    const quiet = scope.track(new DaemonProcess(scope.repo('quiet'), ['--listen', `/ip4/${loopbackHost()}/tcp/0`, '--log-level', 'warn', '--bootstrap', dead]))
    await logged(quiet, / warn +no bootstrap peer could be reached/)
    assert.equal((await shoal(['peers', '--repo', quiet.repo])).code, 0, 'it runs')
    assert.doesNotMatch(quiet.log, / info /)
  })

  it('refuses a bootstrap address without /p2p/<peer id>, in a flag or the config, with one line', async () => {
    const repo = scope.repo('no-peer-id')
    const r = await shoal(['daemon', '--repo', repo, '--listen', `/ip4/${loopbackHost()}/tcp/0`, '--bootstrap', '/ip4/127.0.0.1/tcp/4401'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--bootstrap: \/ip4\/127.0.0.1\/tcp\/4401 has no \/p2p\/<peer id>; give the peer's full address/)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    await shoalOk(['init', '--repo', repo])
    const config = JSON.parse(await fs.readFile(path.join(repo, 'config.json'), 'utf8'))
    await fs.writeFile(path.join(repo, 'config.json'), JSON.stringify({ ...config, bootstrap: ['/ip4/127.0.0.1/tcp/4401'] }))
    const again = await shoal(['daemon', '--repo', repo])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /config.json: bootstrap: .* has no \/p2p\/<peer id>/)
  })

  it('warns when no bootstrap peer can be reached, and keeps running', async () => {
    const live = await scope.start('known')
    const host = loopbackHost()
    const dead = `/ip4/${host}/tcp/${await closedPort(host)}/p2p/${live.peerId}`
    const alone = await scope.start('alone', ['--bootstrap', dead])
    await logged(alone, new RegExp(` warn +cannot reach bootstrap peer address=${dead.replaceAll('/', '\\/')}`))
    await logged(alone, / warn +no bootstrap peer could be reached \(tried 1\); this peer is alone/)
    assert.equal((await shoal(['id', '--repo', alone.repo])).code, 0, 'still running')
    const joined = await scope.start('joined', ['--bootstrap', live.addresses[0]])
    await logged(joined, new RegExp(`connected to bootstrap peer peer=${live.peerId}`))
  })

  it('a second daemon on a port in use names the address, and its failed first start leaves no repo behind', async () => {
    const first = await scope.start('holder')
    const taken = first.addresses[0].replace(/\/p2p\/.*$/, '')
    const repo = scope.repo('never-made')
    const r = await shoal(['daemon', '--repo', repo, '--listen', taken])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, new RegExp(`cannot listen on ${taken.replaceAll('/', '\\/')}: the address is in use`))
    assert.doesNotMatch(r.stderr, /faultTolerance/)
    await assert.rejects(fs.access(repo), 'no repo left behind')

    // an existing folder keeps what it had, and only that
    const mine = scope.repo('my-folder')
    await fs.mkdir(mine)
    await fs.writeFile(path.join(mine, 'notes.txt'), 'mine')
    assert.notEqual((await shoal(['daemon', '--repo', mine, '--listen', taken])).code, 0)
    assert.deepEqual(await fs.readdir(mine), ['notes.txt'])
  })
})
