import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import { byDistance } from '../../src/replication/keyspace.js'
import { shoal, shoalOk, statusUntil, useDaemons } from '../helpers/cli.js'
import type { DaemonProcess } from '../helpers/cli.js'

const FAST = ['--check-interval', '0.3', '--grace-period', '60']

describe('cli: replicas', function () {
  this.timeout(120_000)
  const scope = useDaemons()
  const daemons: DaemonProcess[] = []
  /** Daemons a test stopped or killed. */
  const down = new Set<DaemonProcess>()
  const running = (): DaemonProcess[] => daemons.filter(d => !down.has(d))

  let group: string[]

  before(async () => {
    const key = path.join(scope.dir, 'group.key')
    await fs.writeFile(key, (await shoalOk(['group-key'])).stdout, { mode: 0o600 })
    group = ['--group-key', key]
    const first = await scope.start('p0', [...FAST, ...group])
    daemons.push(first)
    for (let i = 1; i < 5; i++) daemons.push(await scope.start(`p${i}`, [...FAST, ...group, '--bootstrap', first.addresses[0]]))
  })

  it('add --replicas places K copies; status shows them from any peer; a graceful stop hands its copy over', async () => {
    const file = path.join(scope.dir, 'input')
    await fs.writeFile(file, randomBytes(3 * 1024 * 1024))
    // added through one of the three peers closest to the root, so no surplus copy waits out the grace period
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', daemons[0].repo])).stdout)
    const closest = byDistance(CID.parse(cid), daemons.map(d => ({ peer: peerIdFromString(d.peerId), d })))[0].d
    const added = JSON.parse((await shoalOk(['add', file, '--replicas', '3', '--json', '--repo', closest.repo])).stdout)
    assert.equal(added.replication.wanted, 3)

    const ok = await statusUntil(daemons[4].repo, added.cid, s => s.health === 'ok' && s.copies === 3)
    assert.equal(ok.holders.filter((h: any) => h.state === 'complete').length, 3)
    const human = await shoalOk(['status', added.cid, '--repo', daemons[4].repo])
    assert.match(human.stdout, /ok\n\s+copies\s+3 complete of 3 wanted/)

    // a holder that is not the leader stops gracefully: shoal stop returns once it handed over
    const holder = daemons.find(d => d.peerId !== ok.leader && ok.holders.some((h: any) => h.peer === d.peerId))!
    down.add(holder)
    const stop = await shoalOk(['stop', '--repo', holder.repo], { timeout: 90_000 })
    assert.equal(await holder.exited, 0)
    assert.match(stop.stdout, /daemon stopped/)
    // it said what it was waiting for, and what it did
    assert.match(stop.stderr, new RegExp(`handing over 1 replica\\(s\\), (\\d+ ms|[\\d.]+ s) of at most 1 min: waiting for ${added.cid} \\(2 of 3 copies elsewhere\\)`))
    assert.match(stop.stderr, /handed over 1 replica/)
    assert.match(holder.log, /handed over 1 replica/)
    const witness = daemons.find(d => d !== holder)!
    const after = await statusUntil(witness.repo, added.cid, s => s.health === 'ok' && s.copies === 3 && !s.holders.some((h: any) => h.peer === holder.peerId))
    assert.equal(after.wanted, 3)
  })

  it('refuses bad replica counts and answers 4 for a root nobody replicates', async () => {
    // the first test stopped one daemon
    const [adder, other] = running()
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
    assert.match(unknown.stderr, /keeps nothing of .* and no holder of a replica of it answered/)
    assert.equal(unknown.stderr.trim().split('\n').length, 1)
    // where it is pinned, status describes it as this peer keeps it
    const local = await shoalOk(['status', plain.cid, '--repo', adder.repo])
    assert.match(local.stdout, /pinned here \(user\); no replication asked/)
    const json = JSON.parse((await shoalOk(['status', plain.cid, '--json', '--repo', adder.repo])).stdout)
    assert.deepEqual([json.replicated, json.here], [false, ['user']])
  })

  it('replicate keeps K copies of a root this peer fetched rather than added, and changes K later', async () => {
    const live = running()
    const file = path.join(scope.dir, 'fetched')
    await fs.writeFile(file, randomBytes(1024 * 1024))
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', live[0].repo])).stdout)
    const missing = await shoal(['replicate', cid, '--replicas', '2', '--repo', live[1].repo])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /is not all here: fetch it first \(shoal get/)
    await shoalOk(['get', cid, '-o', path.join(scope.dir, 'fetched-copy'), '--repo', live[1].repo])
    await shoalOk(['replicate', cid, '--replicas', '2', '--repo', live[1].repo])
    await statusUntil(live[1].repo, cid, s => s.replicated === true && s.health === 'ok' && s.copies >= 2)
    // K changes on one holder; every holder takes it up
    await shoalOk(['replicate', cid, '--replicas', '3', '--repo', live[1].repo])
    const three = await statusUntil(live[3].repo, cid, s => s.health === 'ok' && s.copies === 3 && s.wanted === 3)
    assert.equal(three.holders.filter((h: any) => h.state === 'complete').length, 3)
  })

  it('status shows a holder that stopped answering: for how long, and when it is replaced unless it returns', async () => {
    const live = running()
    const file = path.join(scope.dir, 'watched')
    await fs.writeFile(file, randomBytes(512 * 1024))
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', live[0].repo])).stdout)
    const [first, second] = byDistance(CID.parse(cid), live.map(d => ({ peer: peerIdFromString(d.peerId), d }))).map(p => p.d)
    await shoalOk(['add', file, '--replicas', '2', '--repo', first.repo])
    await statusUntil(first.repo, cid, s => s.copies === 2 && s.holders.length === 2)
    await second.kill('SIGKILL')
    const seen = await statusUntil(first.repo, cid, s => s.holders.some((h: any) => h.peer === second.peerId && h.state === 'absent'))
    const absent = seen.holders.find((h: any) => h.peer === second.peerId)
    assert.ok(absent.downFor >= 0 && absent.replacedIn > 0 && absent.replacedIn <= 60_000, JSON.stringify(absent))
    const human = await shoalOk(['status', cid, '--repo', first.repo])
    const duration = '(\\d+ ms|[\\d.]+ s|\\d+ min( \\d+ s)?)'
    assert.match(human.stdout, new RegExp(`absent +${second.peerId}  absent ${duration}; replaced in ${duration} unless it returns`))
    assert.deepEqual(seen.holders.map((h: any) => h.peer), [first.peerId, second.peerId], 'closest to the root first')
    assert.ok(seen.holders[0].addresses.length > 0, 'with addresses')
    down.add(second)
  })

  it('status from a peer that holds nothing of the root shows a silent holder absent, with its countdown, as the holders do', async () => {
    const live = running()
    const file = path.join(scope.dir, 'asked-about')
    await fs.writeFile(file, randomBytes(256 * 1024))
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', live[0].repo])).stdout)
    const [first, second, ...others] = byDistance(CID.parse(cid), live.map(d => ({ peer: peerIdFromString(d.peerId), d }))).map(p => p.d)
    await shoalOk(['add', file, '--replicas', '2', '--repo', first.repo])
    await statusUntil(first.repo, cid, s => s.copies === 2 && s.holders.length === 2)
    // asked from a peer that keeps nothing of it (not the one it was first added on, which pinned it;
    // earlier tests may have stopped every other one)
    const outsider = others.find(d => d !== live[0]) ?? await scope.start('outsider', [...FAST, ...group, '--bootstrap', first.addresses[0]])
    if (!daemons.includes(outsider)) daemons.push(outsider)
    await statusUntil(outsider.repo, cid, s => s.copies === 2)
    await second.kill('SIGKILL')
    down.add(second)
    // past the time a status query takes (15 s with these settings), well within the grace period (60 s)
    const holders = await statusUntil(first.repo, cid, s => s.holders.some((h: any) => h.peer === second.peerId && h.state === 'absent' && h.downFor > 16_000), 40_000)
    const asked = JSON.parse((await shoalOk(['status', cid, '--json', '--repo', outsider.repo])).stdout)
    assert.deepEqual(asked.here, [], 'it keeps nothing of the root')
    const absent = asked.holders.find((h: any) => h.peer === second.peerId)
    assert.ok(absent != null, `the silent holder is shown: ${JSON.stringify(asked.holders)}`)
    assert.equal(absent.state, 'absent')
    const theirs = holders.holders.find((h: any) => h.peer === second.peerId)
    assert.ok(absent.downFor >= theirs.downFor - 2_000 && absent.downFor < 60_000, `down for ${absent.downFor} ms here, ${theirs.downFor} ms on the holder`)
    assert.ok(absent.replacedIn > 0 && absent.replacedIn <= 60_000 - 16_000, JSON.stringify(absent))
    assert.equal(asked.copies, 1)
    assert.equal(asked.holders.find((h: any) => h.peer === first.peerId)?.state, 'complete')
    const human = await shoalOk(['status', cid, '--repo', outsider.repo])
    assert.match(human.stdout, new RegExp(`absent +${second.peerId}  absent [\\d.]+ s; replaced in ([\\d.]+ s|\\d+ ms) unless it returns`))
  })

  it('stopping the last holder of a root gives it up within seconds, and says why, rather than waiting the whole leave timeout', async () => {
    // a group of one: nobody else can take a copy
    const key = path.join(scope.dir, 'alone.key')
    await fs.writeFile(key, (await shoalOk(['group-key'])).stdout, { mode: 0o600 })
    const last = await scope.start('last', [...FAST, '--group-key', key, '--leave-timeout', '60'])
    const file = path.join(scope.dir, 'only-here')
    await fs.writeFile(file, randomBytes(64 * 1024))
    const added = JSON.parse((await shoalOk(['add', file, '--replicas', '2', '--json', '--repo', last.repo])).stdout)
    assert.deepEqual(added.replication.holders.map((h: any) => h.peer), [last.peerId])
    const started = Date.now()
    const stop = await shoalOk(['stop', '--repo', last.repo], { timeout: 90_000 })
    const seconds = (Date.now() - started) / 1000
    assert.equal(await last.exited, 0)
    assert.ok(seconds < 30, `stopped after ${seconds} s (leave timeout 60 s)`)
    assert.match(stop.stderr, new RegExp(`short of copies without this peer: ${added.cid} has 0 of 2 elsewhere \\(no other peer of the replication group can take a copy: given up\\)`))
    assert.match(last.log, /still short of copies without this peer .*reason="no other peer of the replication group can take a copy"/)
  })

  it('a peer outside the replication group cannot make the group keep its files', async () => {
    const live = running()
    const before = await Promise.all(live.map(async d => JSON.parse((await shoalOk(['stat', '--json', '--repo', d.repo])).stdout)))
    // a stranger with a group of its own, connected to every member
    const otherKey = path.join(scope.dir, 'other.key')
    await fs.writeFile(otherKey, (await shoalOk(['group-key'])).stdout)
    const stranger = await scope.start('stranger', [...FAST, '--group-key', otherKey, '--bootstrap', live[0].addresses[0]])
    for (const d of live) await shoalOk(['connect', d.addresses[0], '--repo', stranger.repo])
    const file = path.join(scope.dir, 'unwanted')
    await fs.writeFile(file, randomBytes(2 * 1024 * 1024))
    const added = JSON.parse((await shoalOk(['add', file, '--replicas', '3', '--json', '--repo', stranger.repo])).stdout)
    assert.deepEqual(added.replication.holders.map((h: any) => h.peer), [stranger.peerId], 'nobody took a copy')
    for (const [i, d] of live.entries()) {
      const replicas = JSON.parse((await shoalOk(['replicas', '--json', '--repo', d.repo])).stdout)
      assert.ok(!replicas.some((r: any) => r.cid === added.cid), 'no member keeps it')
      const after = JSON.parse((await shoalOk(['stat', '--json', '--repo', d.repo])).stdout)
      assert.equal(after.blocks, before[i].blocks, 'no member downloaded a block')
    }
    assert.match(stranger.log, /declined|not in this peer's replication group/)

    // and without any group, add --replicas says what is missing
    const loner = await scope.start('loner', FAST)
    const r = await shoal(['add', file, '--replicas', '2', '--repo', loner.repo])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /replication needs a replication group: .*--group-key/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
  })
})
