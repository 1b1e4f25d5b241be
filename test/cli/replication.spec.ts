import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { shoal, shoalOk, useDaemons } from '../helpers/cli.js'
import type { DaemonProcess } from '../helpers/cli.js'

const FAST = ['--check-interval', '0.3', '--grace-period', '60']

/** `shoal status CID --json` through `repo` until `check` holds (across processes there is no event to wait on). */
async function statusUntil (repo: string, cid: string, check: (s: any) => boolean, timeout = 30_000): Promise<any> {
  const deadline = Date.now() + timeout
  let last: any
  while (Date.now() < deadline) {
    const r = await shoal(['status', cid, '--json', '--repo', repo])
    if (r.code === 0) {
      last = JSON.parse(r.stdout)
      if (check(last)) return last
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`status of ${cid} never matched; last: ${JSON.stringify(last)}`)
}

describe('cli: replicas', function () {
  this.timeout(120_000)
  const scope = useDaemons()
  const daemons: DaemonProcess[] = []
  /** The daemon the first test stops. */
  let stopped: DaemonProcess | undefined

  before(async () => {
    const first = await scope.start('p0', FAST)
    daemons.push(first)
    for (let i = 1; i < 5; i++) daemons.push(await scope.start(`p${i}`, [...FAST, '--bootstrap', first.addresses[0]]))
  })

  it('add --replicas places K copies; status shows them from any peer; a graceful stop hands its copy over', async () => {
    const file = path.join(scope.dir, 'input')
    await fs.writeFile(file, randomBytes(3 * 1024 * 1024))
    const added = JSON.parse((await shoalOk(['add', file, '--replicas', '3', '--json', '--repo', daemons[0].repo])).stdout)
    assert.equal(added.replication.wanted, 3)

    const ok = await statusUntil(daemons[4].repo, added.cid, s => s.health === 'ok' && s.copies === 3)
    assert.equal(ok.holders.filter((h: any) => h.state === 'complete').length, 3)
    const human = await shoalOk(['status', added.cid, '--repo', daemons[4].repo])
    assert.match(human.stdout, /ok\n\s+copies\s+3 complete of 3 wanted/)

    // a holder that is not the leader stops gracefully: shoal stop returns once it handed over
    const holder = daemons.find(d => d.peerId !== ok.leader && ok.holders.some((h: any) => h.peer === d.peerId))!
    stopped = holder
    const stop = await shoalOk(['stop', '--repo', holder.repo], { timeout: 90_000 })
    assert.equal(await holder.exited, 0)
    assert.match(stop.stdout, /daemon stopped/)
    assert.match(holder.log, /handed over 1 replica/)
    const witness = daemons.find(d => d !== holder)!
    const after = await statusUntil(witness.repo, added.cid, s => s.health === 'ok' && s.copies === 3 && !s.holders.some((h: any) => h.peer === holder.peerId))
    assert.equal(after.wanted, 3)
  })

  it('refuses bad replica counts and answers 4 for a root nobody replicates', async () => {
    // the first test stopped one daemon
    const [adder, other] = daemons.filter(d => d !== stopped)
    const file = path.join(scope.dir, 'small')
    await fs.writeFile(file, 'small file')
    const zero = await shoal(['add', file, '--replicas', '0', '--repo', adder.repo])
    assert.equal(zero.code, 2)
    assert.match(zero.stderr, /--replicas must be a whole number of at least 1/)
    const inverted = await shoal(['add', file, '--replicas', '3', '--replicas-max', '2', '--repo', adder.repo])
    assert.equal(inverted.code, 2)
    assert.match(inverted.stderr, /--replicas-max \(2\) must be at least --replicas \(3\)/)

    const plain = JSON.parse((await shoalOk(['add', file, '--json', '--repo', adder.repo])).stdout)
    const unknown = await shoal(['status', plain.cid, '--repo', other.repo])
    assert.equal(unknown.code, 4, unknown.stderr)
    assert.match(unknown.stderr, /no live holder of a replica/)
    assert.equal(unknown.stderr.trim().split('\n').length, 1)
  })
})
