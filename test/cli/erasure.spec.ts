import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { byDistance } from '../../src/replication/keyspace.js'
import { DaemonProcess, sha256File, shoalOk, statusUntil, summaryOf, untilValue, useDaemons } from '../helpers/cli.js'
import { referenceRootCID } from '../helpers/reference-dag.js'

const MiB = 1024 * 1024
/** Fast rounds, and a short grace period: a holder gone 3 s is rebuilt elsewhere. */
const FAST = ['--check-interval', '0.3', '--grace-period', '3']

/** Six complete fragments, one each, on six distinct peers. */
const whole = (s: any): boolean => s.health === 'ok' && s.copies === 6 && s.holders.filter((h: any) => h.state === 'complete').length === 6

describe('cli: erasure coding (--erasure 4+2)', function () {
  this.timeout(240_000)
  const scope = useDaemons()
  const members: DaemonProcess[] = []
  const killed = new Set<DaemonProcess>()
  let outsider: DaemonProcess
  let group: string[]
  let file: string
  let cid: string
  let adder: DaemonProcess

  before(async () => {
    const key = path.join(scope.dir, 'group.key')
    await fs.writeFile(key, (await shoalOk(['group-key'])).stdout, { mode: 0o600 })
    group = ['--group-key', key]
    members.push(await scope.start('m0', [...FAST, ...group]))
    for (let i = 1; i < 8; i++) members.push(await scope.start(`m${i}`, [...FAST, ...group, '--bootstrap', members[0].addresses[0]]))
    // not in the group: it can read, never be asked to keep anything
    outsider = await scope.track(await DaemonProcess.start(scope.repo('outsider'), ['--bootstrap', members[0].addresses[0]], { DEBUG: 'shoal:erasure' }))
  })

  it('places fragment i of every stripe on the i-th closest member, six distinct peers, and any peer sees them', async () => {
    file = path.join(scope.dir, 'coded')
    // 9 leaves of 1 MiB and a short one: three stripes, the last of two leaves
    const bytes = randomBytes(9 * MiB + 12345)
    await fs.writeFile(file, bytes)
    // added through the member closest to the root, so the adder keeps a fragment too
    const root = referenceRootCID(bytes, MiB)
    const byCloseness = byDistance(root, members.map(d => ({ peer: peerIdFromString(d.peerId), d }))).map(x => x.d)
    adder = byCloseness[0]
    const added = JSON.parse((await shoalOk(['add', file, '--erasure', '4+2', '--json', '--repo', adder.repo])).stdout)
    cid = added.cid
    assert.equal(cid, root.toString())
    assert.deepEqual([added.replication.erasure.k, added.replication.erasure.m], [4, 2])

    const ok = await statusUntil(outsider.repo, cid, whole, 60_000)
    const holders = ok.holders.filter((h: any) => h.state === 'complete')
    assert.deepEqual(holders.map((h: any) => h.fragment).sort(), [0, 1, 2, 3, 4, 5])
    assert.deepEqual(new Set(holders.map((h: any) => h.peer)), new Set(byCloseness.slice(0, 6).map(d => d.peerId)))
    // fragment i went to the i-th closest
    for (const h of holders) assert.equal(h.peer, byCloseness[h.fragment].peerId)
    // ls on a holder names its fragment
    const ls = await shoalOk(['ls', '--repo', byCloseness[5].repo])
    assert.match(ls.stdout, new RegExp(`${cid}\\s+9\\.0 MiB\\s+4\\+2\\s+parity fragment 1, complete; the root: ok`))
    // as people read it, from a member that keeps none of it (its answers may lag a round behind the outsider's)
    await untilValue('status to show six fragments', 30_000, async () => {
      const human = await shoalOk(['status', cid, '--repo', members[7].repo])
      return /erasure\s+4\+2: 6 of 6 fragments complete \(any 4 give back the file\)/.test(human.stdout) && /parity fragment 1/.test(human.stdout) ? true : undefined
    })
  })

  it('with M holders gone, the adder among them, a peer outside the group gets the file whole: the lost leaves rebuilt from parity, each checked', async () => {
    const ok = await statusUntil(outsider.repo, cid, whole, 60_000)
    const fragmentOf = (d: DaemonProcess): number | undefined => ok.holders.find((h: any) => h.peer === d.peerId)?.fragment
    const dataHolder = members.find(d => d !== adder && (fragmentOf(d) ?? 99) < 4)!
    for (const d of [adder, dataHolder]) {
      killed.add(d)
      await d.kill('SIGKILL')
    }
    const out = path.join(scope.dir, 'coded-out')
    const started = Date.now()
    const r = await shoalOk(['get', cid, '-o', out, '--json', '--repo', outsider.repo], { timeout: 120_000 })
    console.log(`      9 MiB with 2 of 6 holders gone (the adder, data fragment ${String(fragmentOf(dataHolder))}): ${((Date.now() - started) / 1000).toFixed(1)} s`)
    assert.equal(await sha256File(out), await sha256File(file))
    assert.ok(!summaryOf(r).peers.some((p: any) => [adder.peerId, dataHolder.peerId].includes(p.peerId)))
    // the leaves of the data fragment gone were rebuilt, not found elsewhere
    const lost = [adder, dataHolder].map(d => fragmentOf(d)!).filter(f => f < 4).sort((a, b) => a - b)
    await outsider.logged(new RegExp(`data fragments ${lost.join(', ')} have no live holder: rebuilding their leaves from parity`))
  })

  it('the leader places the fragments of holders gone past the grace period on members that keep none, back to six', async () => {
    const live = members.filter(d => !killed.has(d))
    const repaired = await statusUntil(live[0].repo, cid, s => whole(s) && !s.holders.some((h: any) => [...killed].some(d => d.peerId === h.peer) && h.state === 'complete'), 120_000)
    const holders = repaired.holders.filter((h: any) => h.state === 'complete')
    assert.deepEqual(holders.map((h: any) => h.fragment).sort(), [0, 1, 2, 3, 4, 5])
    assert.equal(new Set(holders.map((h: any) => h.peer)).size, 6)
    for (const h of holders) assert.ok(live.some(d => d.peerId === h.peer), `${String(h.peer)} holds fragment ${String(h.fragment)} but is not running`)
  })

  it('a holder that serves a corrupted fragment is banned by the reader, who rebuilds what it held from the others', async () => {
    const live = members.filter(d => !killed.has(d))
    const corrupt = scope.track(await DaemonProcess.startCorrupt(scope.repo('corrupt'), [...FAST, ...group, '--bootstrap', live[0].addresses[0]]))
    // a file of which the corrupt member keeps a data fragment (placement follows the root: try a few)
    let coded: string | undefined
    let input = ''
    let codedBy: DaemonProcess | undefined
    for (let i = 0; i < 12 && coded == null; i++) {
      input = path.join(scope.dir, `bad-${i}`)
      await fs.writeFile(input, randomBytes(4 * MiB + 999))
      codedBy = live[i % live.length]
      const { cid: c } = JSON.parse((await shoalOk(['add', input, '--erasure', '4+2', '--json', '--repo', codedBy.repo])).stdout)
      const s = await statusUntil(live[0].repo, c, whole, 60_000)
      if ((s.holders.find((h: any) => h.peer === corrupt.peerId)?.fragment ?? 99) < 4) coded = c
    }
    assert.ok(coded != null && codedBy != null, 'the corrupt member never got a data fragment')
    // the adder keeps the whole file it added: gone, the reader has only the fragments to go by
    await codedBy.kill('SIGKILL')
    const out = path.join(scope.dir, 'bad-out')
    await shoalOk(['get', coded, '-o', out, '--repo', outsider.repo], { timeout: 120_000 })
    assert.equal(await sha256File(out), await sha256File(input))
    const stat = JSON.parse((await shoalOk(['stat', '--json', '--repo', outsider.repo])).stdout)
    const ban = stat.banned.find((b: any) => b.peer === corrupt.peerId)
    assert.ok(ban != null, JSON.stringify(stat.banned))
    assert.match(ban.reason, /failed verification/)
  })
})
