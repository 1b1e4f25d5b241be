import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { renderTop } from '../../src/cli/top-view.js'
import { topView } from '../../src/node/activity-view.js'
import { shoal, shoalOk, shoalStreaming, useDaemons } from '../helpers/cli.js'
import type { TopSample } from '../../src/node/activity-view.js'

const MiB = 1024 * 1024

function sample (at: number, bytesFetched: number, bytesDone: number, sent: number): TopSample {
  return {
    at,
    transfers: {
      downloads: [{ root: 'bafyroot', purpose: 'get', name: 'movie.mp4', startedAt: 1, blocksKnown: 10, blocksDone: 2, bytesFetched, bytesDone, bytesTotal: 10 * MiB, peers: 2, contributors: [] }],
      activeUploads: 1,
      peers: [{ peerId: 'peer-a', bytesSent: sent, bytesReceived: bytesFetched }],
      bytesSent: sent,
      bytesReceived: bytesFetched
    },
    replicas: [{ cid: 'bafyrep', wanted: 3, max: 3, size: 1, health: 'under-replicated', copies: 2, holders: [], local: true }]
  }
}

describe('cli: shoal top', function () {
  this.timeout(120_000)
  const scope = useDaemons()

  it('rates over the interval, and the time left at that rate', () => {
    const view = topView(sample(0, 1 * MiB, 1 * MiB, 0), sample(2000, 5 * MiB, 6 * MiB, 2 * MiB))
    assert.equal(view.downloads[0].rate, 2 * MiB)
    assert.equal(view.downloads[0].eta, 2, '4 MiB left at 2 MiB/s')
    assert.deepEqual(view.peers, [{ peerId: 'peer-a', up: MiB, down: 2 * MiB }])
    assert.equal(view.down, 2 * MiB)
    const screen = renderTop(view).join('\n')
    assert.match(screen, /\[############\.{8}\]\s+60%\s+2\.0 MiB\/s\s+eta 2 s\s+2 peer\(s\)\s+get\s+movie\.mp4\s+6\.0 MiB of 10\.0 MiB/)
    assert.match(screen, /under-replicated\s+2 of 3\s+bafyrep/)
    // a first reading has no rate and no time left
    const first = topView(undefined, sample(0, MiB, MiB, 0))
    assert.equal(first.downloads[0].rate, 0)
    assert.equal(first.downloads[0].eta, undefined)
  })

  it('shows a get under way on the daemon doing it, with its rate; refuses a bad interval', async () => {
    const seeder = await scope.start('seeder')
    const leecher = await scope.start('leecher', ['--bootstrap', seeder.addresses[0], '--max-download-rate', '2MiB'])
    const input = path.join(scope.dir, 'input')
    await fs.writeFile(input, randomBytes(24 * MiB))
    const { cid } = JSON.parse((await shoalOk(['add', input, '--json', '--repo', seeder.repo])).stdout)
    let started!: () => void
    const moving = new Promise<void>(resolve => { started = resolve })
    const get = shoalStreaming(['get', cid, '-o', path.join(scope.dir, 'out'), '--json', '--repo', leecher.repo], line => {
      if (line.includes('"progress"') && JSON.parse(line).bytesDone > 0) started()
    })
    await moving
    const top = JSON.parse((await shoalOk(['top', '--once', '--json', '--interval', '1', '--repo', leecher.repo])).stdout)
    const d = top.downloads.find((x: any) => x.root === cid)
    assert.ok(d != null, JSON.stringify(top))
    assert.equal(d.purpose, 'get')
    assert.equal(d.name, 'out')
    assert.equal(d.bytesTotal > 24 * MiB, true)
    assert.ok(d.rate > 0.5 * MiB && d.rate < 4 * MiB, `about the 2 MiB/s limit: ${d.rate as number}`)
    assert.ok(d.eta > 0, 'a time left')
    assert.ok(top.peers.some((p: any) => p.peerId === seeder.peerId && p.down > 0), JSON.stringify(top.peers))
    const text = (await shoalOk(['top', '--once', '--interval', '0.5', '--repo', leecher.repo])).stdout
    assert.match(text, /TRANSFERS\n\s+\[[#.]{20}\]/)
    assert.equal((await get).code, 0)
    const bad = await shoal(['top', '--interval', '0', '--repo', leecher.repo])
    assert.equal(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /--interval/)
  })
})
