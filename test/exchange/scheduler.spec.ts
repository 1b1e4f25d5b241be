import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { PeerState } from '../../src/exchange/peer-state.js'
import { Scheduler } from '../../src/exchange/scheduler.js'
import { WantList } from '../../src/exchange/want-list.js'

const MiB = 1024 * 1024

async function leaf (n: number): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new Uint8Array([n, 9])))
}

/** A peer that sent `blocks` 1 MiB blocks at `mbps` MB/s, the last one just now, and whose asks go to `asked`. */
function peer (name: string, mbps: number, asked: CID[][]): PeerState {
  const p = new PeerState({ toString: () => name } as any, { want: async (cids: CID[]) => { asked.push(cids) } } as any, { initial: 4, min: 1, max: 64 }, () => 1)
  const now = Date.now()
  const gap = MiB / (mbps * 1e6) * 1000
  for (let i = 5; i >= 0; i--) p.received(MiB, now - i * gap)
  return p
}

/** A scheduler over `peers`, where every leaf is already asked of someone (nothing pending). */
function scheduler (wants: WantList, peers: PeerState[]): Scheduler {
  return new Scheduler({
    dag: { wants, numbering: undefined, frontier: 0 } as any,
    pool: { peers: new Map(peers.map(p => [p.key, p])) } as any,
    swarm: { peers: new Map() } as any,
    log: Object.assign(() => {}, { trace: () => {}, error: () => {} }) as any,
    claim: () => true,
    canReceive: () => true,
    onSendFailed: () => {}
  }, { sequential: false })
}

/** Ask `holder` for `leaves`, one after another (a millisecond apart), as the scheduler would have. */
function ask (wants: WantList, holder: PeerState, leaves: CID[]): void {
  const now = Date.now()
  leaves.forEach((cid, i) => {
    wants.requested(cid, holder.key, now - leaves.length + i)
    holder.inFlight.set(cid.toString(), { cid, sentAt: now - leaves.length + i })
  })
}

describe('exchange: Scheduler', () => {
  it('an idle peer takes over a block waiting in another peer\'s queue only if it would deliver it clearly sooner', async () => {
    const leaves = await Promise.all([0, 1, 2, 3, 4, 5].map(leaf))
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    const asked: CID[][] = []
    const thief = peer('thief', 2, asked)
    // a holder as fast as the thief, with two blocks queued: asking again only doubles the traffic
    const equal = peer('equal', 2, [])
    ask(wants, equal, leaves.slice(0, 2))
    // a holder half as fast with four queued: its last ones are seconds away
    const slow = peer('slow', 1, [])
    ask(wants, slow, leaves.slice(2, 6))
    scheduler(wants, [thief, equal, slow]).fill(thief)
    const picked = asked.flat().map(String)
    assert.ok(picked.length > 0, 'the slow holder\'s queue is taken over')
    for (const cid of picked) assert.ok(slow.inFlight.has(cid), `${cid} was waiting at the slow holder, not at the equal one`)
    assert.equal(picked[0], leaves[5].toString(), 'the back of its queue first')
  })

  it('with no rate known on either side, only a request left unanswered for a while is asked again', async () => {
    const leaves = await Promise.all([10, 11].map(leaf))
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    const asked: CID[][] = []
    const fresh = new PeerState({ toString: () => 'new' } as any, { want: async (cids: CID[]) => { asked.push(cids) } } as any, { initial: 4, min: 1, max: 64 })
    const other = new PeerState({ toString: () => 'other' } as any, {} as any, { initial: 4, min: 1, max: 64 })
    ask(wants, other, [leaves[0]])
    const long = Date.now() - 10_000
    wants.requested(leaves[1], other.key, long)
    other.inFlight.set(leaves[1].toString(), { cid: leaves[1], sentAt: long })
    scheduler(wants, [fresh, other]).fill(fresh)
    assert.deepEqual(asked.flat().map(String), [leaves[1].toString()])
  })

  it('a measured peer takes over from a holder not measured yet only once that holder had twice the time it would need', async () => {
    const leaves = await Promise.all([30, 31].map(leaf))
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    const asked: CID[][] = []
    const thief = peer('thief', 2, asked)
    const fresh = new PeerState({ toString: () => 'fresh' } as any, {} as any, { initial: 4, min: 1, max: 64 })
    const now = Date.now()
    // leaf 30 asked just now, leaf 31 three seconds ago (a 1 MiB block takes the thief half a second)
    for (const [cid, at] of [[leaves[0], now], [leaves[1], now - 3000]] as const) {
      wants.requested(cid, fresh.key, at)
      fresh.inFlight.set(cid.toString(), { cid, sentAt: at })
    }
    scheduler(wants, [thief, fresh]).fill(thief)
    assert.deepEqual(asked.flat().map(String), [leaves[1].toString()])
  })
})

describe('exchange: PeerState eta', () => {
  it('counts the blocks asked before one at the peer\'s rate, and knows nothing of a silent or unmeasured peer', async () => {
    const leaves = await Promise.all([20, 21, 22].map(leaf))
    const p = peer('p', 2, [])
    const wants = new WantList()
    leaves.forEach(l => { wants.add(l) })
    ask(wants, p, leaves)
    const per = MiB / 2e6 * 1000
    const now = Date.now()
    const first = p.eta(leaves[0].toString(), now)!
    const third = p.eta(leaves[2].toString(), now)!
    assert.ok(first <= per + 1 && first >= 0, `the first is under way: ${first}`)
    assert.ok(Math.abs(third - first - 2 * per) < 1, 'two blocks later')
    assert.equal(p.eta(leaves[0].toString(), now + 10 * per), undefined, 'silent for longer than two blocks take')
    const unmeasured = new PeerState({ toString: () => 'u' } as any, {} as any, { initial: 4, min: 1, max: 64 })
    ask(wants, unmeasured, [leaves[0]])
    assert.equal(unmeasured.eta(leaves[0].toString(), now), undefined)
  })
})
