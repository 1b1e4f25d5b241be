import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { sha256File, shoalOk, useDaemons } from '../helpers/cli.js'

/**
 * The user's story, through the CLI, with three daemons as child processes:
 * A shares a file, C (bootstrapped only to B, never told about A) fetches it
 * by CID through the DHT, and then C serves it too.
 */
describe('cli: share on one peer, fetch on another by CID', function () {
  this.timeout(180_000)
  const scope = useDaemons()

  it('A adds, C gets through the DHT via B, bytes identical, C then serves it', async () => {
    const dir = scope.dir
    const repo = scope.repo
    const a = await scope.start('peer-a')
    const b = await scope.start('peer-b', ['--bootstrap', a.addresses[0]])
    const c = await scope.start('peer-c', ['--bootstrap', b.addresses[0]])

    const input = path.join(dir, 'video.bin')
    await fs.writeFile(input, randomBytes(20 * 1024 * 1024))
    const added = JSON.parse((await shoalOk(['add', '--repo', repo('peer-a'), input, '--json'])).stdout)
    assert.match(added.cid, /^bafy/)
    assert.equal(added.size, 20 * 1024 * 1024)

    // C knows only B; its peers list shows it has not been told about A
    const before = JSON.parse((await shoalOk(['peers', '--repo', repo('peer-c'), '--json'])).stdout)
    assert.ok(before.some((p: any) => p.peerId === b.peerId))

    const copy = path.join(dir, 'copy.bin')
    const got = await shoalOk(['get', '--repo', repo('peer-c'), added.cid, '-o', copy, '--json', '--timeout', '60'])
    const lines = got.stdout.trim().split('\n').map(l => JSON.parse(l))
    const summary = lines[lines.length - 1]
    assert.equal(summary.type, 'summary')
    assert.equal(summary.cid, added.cid)
    assert.equal(summary.bytes, 20 * 1024 * 1024)
    assert.deepEqual(summary.peers.map((p: any) => p.peerId), [a.peerId], 'every byte came from A, found through the DHT')
    assert.equal(summary.peers[0].bytes, summary.bytesFetched)
    assert.equal(await sha256File(copy), await sha256File(input))

    // C pinned it and announces it: B sees C among the providers
    const ls = JSON.parse((await shoalOk(['ls', '--repo', repo('peer-c'), '--json'])).stdout)
    assert.deepEqual(ls.map((p: any) => p.cid), [added.cid])

    // with A gone, B fetches it from C
    await a.kill('SIGKILL')
    const copy2 = path.join(dir, 'copy2.bin')
    const got2 = await shoalOk(['get', '--repo', repo('peer-b'), added.cid, '-o', copy2, '--json', '--timeout', '60'])
    const summary2 = JSON.parse(got2.stdout.trim().split('\n').pop()!)
    assert.deepEqual(summary2.peers.map((p: any) => p.peerId), [c.peerId])
    assert.equal(await sha256File(copy2), await sha256File(input))

    const stat = JSON.parse((await shoalOk(['stat', '--repo', repo('peer-c'), '--json'])).stdout)
    assert.equal(stat.bytesSent, 20 * 1024 * 1024 + summary2.bytesFetched - 20 * 1024 * 1024, 'C sent B what B fetched')
    assert.ok(stat.dhtPeers >= 1, `C's routing table holds B at least: ${stat.dhtPeers}`)
  })
})
