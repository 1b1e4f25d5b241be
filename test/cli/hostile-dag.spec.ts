import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { dagBomb, writeCar } from '../helpers/dag-bomb.js'
import { startHelia } from '../helpers/helia.js'
import { peakRssOf, rssOf, usageDuring } from '../helpers/usage.js'
import { sha256File, shoal, shoalJson, shoalOk, useDaemons } from '../helpers/cli.js'
import type { DaemonProcess } from '../helpers/cli.js'
import type { TestHelia } from '../helpers/helia.js'

const MiB = 1024 * 1024

/**
 * A DAG bomb: 5 valid blocks (a 1-byte leaf, four nodes each linking a
 * thousand times to the one below), a "file" of 10^12 bytes; and a liar,
 * the same shape declaring 4 KiB. Held by a stock Helia node (Bitswap), or
 * in a CAR. Every path a user or a peer can make a daemon take refuses them
 * with one clear line, in bounded time, CPU and memory; an honest get
 * beside them completes.
 */
describe('cli: a DAG bomb, on every path', function () {
  this.timeout(180_000)
  const scope = useDaemons()
  const bomb = dagBomb(4, 1000)
  const liar = dagBomb(4, 1000, 4096)
  let helia: TestHelia
  let target: DaemonProcess
  let gateway = ''

  before(async () => {
    helia = await startHelia()
    for (const b of [...bomb.blocks, ...liar.blocks]) await helia.node.blockstore.put(b.cid, b.bytes)
    target = await scope.start('target', ['--gateway', '/ip4/127.0.0.1/tcp/0'])
    gateway = /trustless gateway on (http:\/\/\S+)\/ipfs\//.exec(target.log)![1]
    await shoalOk(['connect', helia.address, '--repo', target.repo])
  })
  after(async () => { await helia?.stop() })

  /** Run `fn` and return what it cost the target daemon: seconds, CPU seconds, peak RSS (MiB). */
  async function costOf (fn: () => Promise<void>): Promise<{ seconds: number, cpu: number, rssPeak: number }> {
    const usage = await usageDuring(target.child.pid!, fn)
    return { seconds: usage.seconds, cpu: usage.cores * usage.seconds, rssPeak: usage.rssPeak }
  }

  it('import of its CAR: exit 7, one line, nothing pinned', async () => {
    const car = path.join(scope.dir, 'bomb.car')
    await writeCar(car, bomb)
    assert.ok((await fs.stat(car)).size < 300_000)
    const cost = await costOf(async () => {
      const r = await shoal(['import', car, '--repo', target.repo])
      assert.equal(r.code, 7, r.stderr)
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      assert.match(r.stderr, /more than 2000000 blocks .*refused/)
    })
    assert.ok(cost.seconds < 10 && cost.cpu < 5, JSON.stringify(cost))
    assert.deepEqual(await shoalJson(['ls', '--repo', target.repo]), [])
    console.log(`      import: ${cost.seconds.toFixed(2)} s, ${cost.cpu.toFixed(2)} s of the daemon's CPU, peak RSS ${cost.rssPeak.toFixed(0)} MiB`)
  })

  it('get from a peer holding it: refused (no room for 10^12 bytes; the liar: too many blocks), nothing left behind', async () => {
    // what the refused import stored goes: the blocks come from the peer
    await shoalOk(['gc', '--repo', target.repo])
    const cost = await costOf(async () => {
      const big = await shoal(['get', bomb.root.toString(), '-o', path.join(scope.dir, 'bomb.out'), '--repo', target.repo])
      assert.equal(big.code, 5, big.stderr)
      assert.match(big.stderr, /needs \d+ bytes and its disk has room for/)
      const lying = await shoal(['get', liar.root.toString(), '-o', path.join(scope.dir, 'liar.out'), '--repo', target.repo])
      assert.equal(lying.code, 7, lying.stderr)
      assert.equal(lying.stderr.trim().split('\n').length, 1, lying.stderr)
    })
    assert.ok(cost.seconds < 30 && cost.cpu < 15, JSON.stringify(cost))
    assert.deepEqual((await fs.readdir(scope.dir)).filter(n => n.includes('.out')), [], 'no output, no .part')
    assert.deepEqual(await shoalJson(['ls', '--downloads', '--repo', target.repo]), [])
    console.log(`      get: ${cost.seconds.toFixed(2)} s, ${cost.cpu.toFixed(2)} s of the daemon's CPU, peak RSS ${cost.rssPeak.toFixed(0)} MiB`)
  })

  it('cat, export and the gateway: an error, never a whole answer', async () => {
    // fetched afresh on each path
    await shoalOk(['gc', '--repo', target.repo])
    const cost = await costOf(async () => {
      const cat = await shoal(['cat', liar.root.toString(), '--repo', target.repo])
      assert.equal(cat.code, 7, cat.stderr)
      assert.ok(cat.stdout.length < 4 * MiB)
      await shoalOk(['gc', '--repo', target.repo])
      const car = await shoal(['export', liar.root.toString(), '-o', path.join(scope.dir, 'liar.car'), '--repo', target.repo])
      assert.equal(car.code, 7, car.stderr)
      await assert.rejects(fs.access(path.join(scope.dir, 'liar.car')), 'no CAR presented as complete')
      await shoalOk(['gc', '--repo', target.repo])
      const res = await fetch(`${gateway}/ipfs/${liar.root.toString()}`, { signal: AbortSignal.timeout(60_000) })
      // an answer already under way is cut off: reading it fails
      if (res.ok) await assert.rejects(res.arrayBuffer())
      else assert.ok(res.status >= 400)
    })
    assert.ok(cost.seconds < 60 && cost.cpu < 20, JSON.stringify(cost))
    console.log(`      cat, export, gateway: ${cost.seconds.toFixed(2)} s, ${cost.cpu.toFixed(2)} s of the daemon's CPU, peak RSS ${cost.rssPeak.toFixed(0)} MiB`)
  })

  it('the daemon stays bounded and an honest get still completes', async () => {
    const seeder = await scope.start('seeder', ['--bootstrap', target.addresses[0]])
    const file = path.join(scope.dir, 'honest.bin')
    await fs.writeFile(file, randomBytes(8 * MiB))
    const { cid } = await shoalJson(['add', file, '--repo', seeder.repo])
    const out = path.join(scope.dir, 'honest.copy')
    const cost = await costOf(async () => { await shoalOk(['get', cid, '-o', out, '--repo', target.repo]) })
    console.log(`      honest 8 MiB get (the baseline): ${cost.seconds.toFixed(2)} s, ${cost.cpu.toFixed(2)} s of the daemon's CPU, peak RSS ${cost.rssPeak.toFixed(0)} MiB`)
    assert.equal(await sha256File(out), await sha256File(file))
    const [rss, peak] = [await rssOf(target.child.pid!), await peakRssOf(target.child.pid!)]
    console.log(`      target daemon: RSS ${(rss / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`)
    assert.ok(peak < 400 * MiB, `peak RSS ${(peak / MiB).toFixed(0)} MiB`)
  })
})
