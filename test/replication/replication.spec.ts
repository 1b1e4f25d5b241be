import assert from 'node:assert/strict'
import { byDistance } from '../../src/replication/keyspace.js'
import { DEFAULT_REPLICATION } from '../../src/config/schema.js'
import { TestSwarm, routingTableHas } from '../helpers/nodes.js'
import type { ShoalNode } from '../../src/node/shoal-node.js'
import type { ReplicationConfig, ShoalConfig } from '../../src/config/schema.js'
import type { CID } from 'multiformats/cid'

/** Fast liveness so a test sees detection, grace and repair in seconds. */
function fast (replication: Partial<ReplicationConfig> = {}, extra: Partial<ShoalConfig> = {}): Partial<ShoalConfig> {
  return {
    ...extra,
    replication: { ...DEFAULT_REPLICATION, checkInterval: 250, probeTimeout: 1_000, gracePeriod: 1_500, repairRate: 0, leaveTimeout: 15_000, ...replication }
  }
}

/** Running nodes whose own copy of `root` is complete. */
function completeHolders (nodes: ShoalNode[], root: CID): ShoalNode[] {
  return nodes.filter(n => n.replicas.list().some(r => r.cid === root.toString() && r.self === 'complete'))
}

/**
 * Resolves once `check` holds, re-evaluated on every replica change event
 * of every running node; rejects after `timeout` with what was last seen.
 */
async function until (swarm: TestSwarm, check: () => boolean, what: string, timeout = 30_000): Promise<number> {
  const started = Date.now()
  if (check()) return 0
  const nodes = [...swarm.nodes]
  return await new Promise<number>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer)
      for (const n of nodes) n.replicas.events.removeEventListener('change', onChange)
      if (err != null) reject(err)
      else resolve(Date.now() - started)
    }
    const onChange = (): void => { if (check()) done() }
    const timer = setTimeout(() => {
      const seen = swarm.nodes.map(n => `${n.peerId.toString()}: ${JSON.stringify(n.replicas.list())}`).join('\n')
      done(new Error(`timed out after ${timeout} ms waiting for: ${what}\n${seen}`))
    }, timeout)
    for (const n of nodes) n.replicas.events.addEventListener('change', onChange)
  })
}

/**
 * Settled at K: exactly K complete copies, none downloading, and every holder
 * counts K (the adder's own copy, if it was not among the closest, trimmed).
 */
async function settled (swarm: TestSwarm, root: CID, k: number, timeout?: number): Promise<number> {
  return await until(swarm, () => {
    const holders = completeHolders(swarm.nodes, root)
    const fetching = swarm.nodes.some(n => n.replicas.list().some(r => r.cid === root.toString() && r.self === 'fetching'))
    return holders.length === k && !fetching && holders.every(h => h.replicas.list().find(r => r.cid === root.toString())?.copies === k)
  }, `settled at ${k} copies`, timeout)
}

/**
 * Add `file` with K replicas through one of the K peers closest to its root
 * (found by adding it plainly on `nodes[0]` first), so no surplus copy waits
 * a grace period to be trimmed.
 */
async function addFromClosest (nodes: ShoalNode[], file: string, k: number): Promise<{ cid: CID, adder: ShoalNode }> {
  const { cid } = await nodes[0].add(file)
  const adder = nodes.find(n => n.peerId.toString() === closest(nodes, cid, k)[0])!
  await adder.add(file, { replicas: k })
  return { cid, adder }
}

async function startSwarm (swarm: TestSwarm, n: number, config: (i: number) => Partial<ShoalConfig>): Promise<ShoalNode[]> {
  const first = await swarm.start(config(0))
  for (let i = 1; i < n; i++) await swarm.start(config(i), { bootstrapTo: [first] })
  for (const node of swarm.nodes) await routingTableHas(node, n - 1)
  return [...swarm.nodes]
}

function closest (nodes: ShoalNode[], root: CID, k: number): string[] {
  return byDistance(root, nodes.map(n => ({ peer: n.peerId }))).slice(0, k).map(p => p.peer.toString()).sort()
}

function ids (nodes: ShoalNode[]): string[] {
  return nodes.map(n => n.peerId.toString()).sort()
}

describe('replication: K copies kept through failures', function () {
  this.timeout(120_000)
  const swarm = new TestSwarm()

  afterEach(async () => {
    await swarm.stopAll()
  })

  it('places K copies on the K peers closest to the root, and any peer can tell their status', async () => {
    const nodes = await startSwarm(swarm, 6, () => fast())
    const file = await swarm.writeRandomFile('input', 3 * 1024 * 1024 + 5)
    const added = await nodes[0].add(file, { replicas: 3 })
    assert.ok(added.replication != null)
    const expected = closest(nodes, added.cid, 3)

    await settled(swarm, added.cid, 3)
    assert.deepEqual(ids(completeHolders(swarm.nodes, added.cid)), expected, 'the holders are the 3 peers closest to the root')

    // every holder knows every other, and a peer holding nothing can ask
    await until(swarm, () => completeHolders(swarm.nodes, added.cid).every(h => h.replicas.list()[0].copies === 3), 'holders know of each other')
    const outsider = nodes.find(n => !expected.includes(n.peerId.toString()) && n !== nodes[0]) ?? nodes.find(n => !expected.includes(n.peerId.toString()))!
    const status = (await outsider.status(added.cid)).replication!
    assert.equal(status.health, 'ok')
    assert.equal(status.wanted, 3)
    assert.equal(status.copies, 3)
    assert.deepEqual(status.holders.map(h => h.peer).sort(), expected)
  })

  it('repairs a killed holder back to K within detection + grace period + download', async () => {
    const config = fast()
    const nodes = await startSwarm(swarm, 6, () => config)
    const file = await swarm.writeRandomFile('input', 2 * 1024 * 1024)
    const added = await nodes[0].add(file, { replicas: 3 })
    await settled(swarm, added.cid, 3)

    const victim = completeHolders(swarm.nodes, added.cid).find(n => n !== nodes[0])!
    const before = ids(completeHolders(swarm.nodes, added.cid))
    await swarm.kill(victim)
    const took = await until(swarm, () => completeHolders(swarm.nodes, added.cid).length === 3, 'back to 3 copies')
    const bound = config.replication!.checkInterval + config.replication!.probeTimeout + config.replication!.gracePeriod + 5_000
    assert.ok(took <= bound, `repaired in ${took} ms (bound ${bound} ms)`)
    const after = ids(completeHolders(swarm.nodes, added.cid))
    assert.ok(!after.includes(victim.peerId.toString()))
    assert.equal(after.filter(p => before.includes(p)).length, 2, 'the two survivors kept their copies; one new holder')
    // the survivors learn of the new copy's completion at their next probe
    await until(swarm, () => completeHolders(swarm.nodes, added.cid).every(h => h.replicas.list()[0].health === 'ok'), 'every holder sees health ok')
  })

  it('moves no data when a holder restarts within the grace period', async () => {
    const nodes = await startSwarm(swarm, 5, () => fast({ gracePeriod: 30_000 }))
    const file = await swarm.writeRandomFile('input', 2 * 1024 * 1024)
    const added = await addFromClosest(nodes, file, 3)
    await settled(swarm, added.cid, 3)
    const holders = ids(completeHolders(swarm.nodes, added.cid))
    const others = swarm.nodes.filter(n => !holders.includes(n.peerId.toString()) && n !== nodes[0])

    const victim = completeHolders(swarm.nodes, added.cid).find(n => n !== nodes[0])!
    await swarm.kill(victim)
    const leaderSees = (state: string): boolean => completeHolders(swarm.nodes, added.cid).some(h =>
      h.replicas.list()[0].holders.some(x => x.peer === victim.peerId.toString() && x.state === state))
    await until(swarm, () => leaderSees('absent'), 'the holders notice the victim is down')
    const back = await swarm.restart(victim)
    await until(swarm, () => leaderSees('complete'), 'the holders see it back')

    assert.deepEqual(ids(completeHolders(swarm.nodes, added.cid)), holders, 'the same three holders')
    assert.equal(back.replicas.list()[0].self, 'complete')
    for (const n of others) {
      assert.equal(n.replicas.list().length, 0, 'no other peer was asked for a copy')
      assert.equal(n.repo.blocks.stats().blocks, 0, 'no other peer received a block')
    }
  })

  it('trims the copy of a returning holder back to the maximum, never going below K', async () => {
    const nodes = await startSwarm(swarm, 6, () => fast())
    const file = await swarm.writeRandomFile('input', 2 * 1024 * 1024)
    const added = await nodes[0].add(file, { replicas: 3 })
    await settled(swarm, added.cid, 3)

    const victim = completeHolders(swarm.nodes, added.cid).find(n => n !== nodes[0])!
    await swarm.kill(victim)
    await until(swarm, () => completeHolders(swarm.nodes, added.cid).length === 3, 'repaired to 3 copies')

    let fewest = Infinity
    const back = await swarm.restart(victim)
    const count = (): number => {
      const n = completeHolders(swarm.nodes, added.cid).length
      fewest = Math.min(fewest, n)
      return n
    }
    await until(swarm, () => count() === 4, 'the returning holder counts again')
    const four = completeHolders(swarm.nodes, added.cid)
    await until(swarm, () => count() === 3, 'trimmed back to 3')
    assert.equal(fewest, 3, 'never fewer than K complete copies')
    assert.deepEqual(ids(completeHolders(swarm.nodes, added.cid)), closest(four, added.cid, 3), 'the farthest copy went')
    assert.ok(swarm.nodes.includes(back))
  })

  it('hands its copies over on a graceful stop, without waiting for the grace period', async () => {
    const nodes = await startSwarm(swarm, 5, () => fast({ gracePeriod: 120_000 }))
    const file = await swarm.writeRandomFile('input', 2 * 1024 * 1024)
    const added = await addFromClosest(nodes, file, 3)
    await settled(swarm, added.cid, 3)

    const leaving = completeHolders(swarm.nodes, added.cid).find(n => n !== nodes[0])!
    const result = await leaving.leave()
    assert.deepEqual(result, { handedOver: 1, unfinished: 0, short: [] })
    await swarm.kill(leaving)
    const rest = completeHolders(swarm.nodes, added.cid)
    assert.equal(rest.length, 3, 'three copies remain without the leaver')
    await until(swarm, () => rest.every(h => h.replicas.list()[0].holders.every(x => x.peer !== leaving.peerId.toString())),
      'the holders forgot the leaver at once')
    await until(swarm, () => rest.every(h => h.replicas.list()[0].health === 'ok'), 'every holder sees health ok')
  })

  it('a full peer declines a copy and placement moves to the next peer', async () => {
    // peers 3 and 4 may store 64 KiB: too little for the file; peer 5's disk is nearly full
    const nodes = await startSwarm(swarm, 6, i => fast({}, i === 3 || i === 4 ? { maxStorage: 64 * 1024 } : {}))
    ;(nodes[5].replicas as any).c.diskSpace = async () => ({ free: 1024 * 1024 * 1024 + 512 * 1024, total: 100 * 1024 * 1024 * 1024 })
    const file = await swarm.writeRandomFile('input', 1024 * 1024)
    const added = await nodes[0].add(file, { replicas: 3 })
    await settled(swarm, added.cid, 3)
    assert.deepEqual(ids(completeHolders(swarm.nodes, added.cid)), ids(nodes.slice(0, 3)))
    for (const full of nodes.slice(3)) {
      assert.equal(full.replicas.list().length, 0)
      assert.equal(full.repo.blocks.stats().bytes, 0)
    }
  })
})

describe('replication: the user\'s pins', function () {
  this.timeout(120_000)
  const swarm = new TestSwarm()

  afterEach(async () => {
    await swarm.stopAll()
  })

  it('a replica that is trimmed keeps the pin the user made on the same root', async () => {
    const nodes = await startSwarm(swarm, 4, () => fast())
    const file = await swarm.writeRandomFile('input', 2 * 1024 * 1024)
    const added = await addFromClosest(nodes, file, 2)
    await settled(swarm, added.cid, 2)
    // the user of the farther holder also wants the file: a get on that peer pins it for the user
    const [first, second] = byDistance(added.cid, completeHolders(swarm.nodes, added.cid).map(n => ({ peer: n.peerId, n }))).map(p => p.n)
    await second.get(added.cid, swarm.outputPath('mine'))
    assert.deepEqual((await second.repo.pins.get(added.cid))?.reasons, ['user', 'replica'])

    // one copy is enough now (said on the farther holder; the leader learns it at the next probe)
    // and the leader trims the farther holder
    const released = new Promise(resolve => { second.replicas.events.addEventListener('replica:released', resolve, { once: true }) })
    await second.replicate(added.cid, { replicas: 1 })
    await released
    assert.deepEqual((await second.repo.pins.get(added.cid))?.reasons, ['user'], 'the user\'s pin stays')
    assert.deepEqual((await second.ls()).map(p => p.cid.toString()), [added.cid.toString()])
    await second.gc()
    await swarm.kill(first)
    const again = await second.get(added.cid, swarm.outputPath('again'), { providerTimeout: 2_000 })
    assert.equal(again.bytesFetched, 0, 'every block is still here after a gc, with the other holder gone')
  })
})

describe('replication: the DHT under churn', function () {
  this.timeout(120_000)
  const swarm = new TestSwarm()

  afterEach(async () => {
    await swarm.stopAll()
  })

  it('drops a crashed peer from routing tables, and its stale provider record does not stall a get', async () => {
    const nodes = await startSwarm(swarm, 4, () => fast())
    const [a, b, c, d] = nodes
    const file = await swarm.writeRandomFile('input', 2 * 1024 * 1024)
    const added = await a.add(file)
    await a.discovery.provide(added.cid)
    await b.get(added.cid, swarm.outputPath('b-copy'))
    await b.discovery.provide(added.cid)

    const table = (c.libp2p.services.dht as any).routingTable
    assert.ok(await table.find(a.peerId) != null, 'A starts in C\'s routing table')
    const removed = new Promise<void>(resolve => {
      table.addEventListener('peer:remove', (evt: CustomEvent) => { if (evt.detail.equals(a.peerId)) resolve() })
    })
    await swarm.kill(a)
    await removed
    assert.equal(await table.find(a.peerId), undefined)

    // A's provider record outlives A; D still gets the file from B at once
    const result = await d.get(added.cid, swarm.outputPath('d-copy'), { providerTimeout: 20_000 })
    assert.deepEqual(result.peers.map(p => p.peerId), [b.peerId.toString()])
    assert.ok(result.seconds < 10, `took ${result.seconds} s`)
  })
})

describe('replication: restarts', function () {
  this.timeout(120_000)
  const swarm = new TestSwarm()

  afterEach(async () => {
    await swarm.stopAll()
  })

  it('a holder killed before its copy is complete resumes the download when it restarts', async () => {
    // a slow repair rate keeps the new holders downloading long enough to be killed mid-way
    const nodes = await startSwarm(swarm, 4, () => fast({ repairRate: 512 * 1024 }))
    const file = await swarm.writeRandomFile('input', 3 * 1024 * 1024)
    const added = await nodes[0].add(file, { replicas: 2 })
    const fetching = (): ShoalNode | undefined => swarm.nodes.find(n => n !== nodes[0] &&
      n.replicas.list().some(r => r.cid === added.cid.toString() && r.self === 'fetching'))
    let target: ShoalNode | undefined
    await until(swarm, () => (target = fetching()) != null, 'a holder that accepted a copy and is downloading it')
    await swarm.kill(target!)

    const back = await swarm.restart(target!)
    assert.equal(back.replicas.list()[0]?.self, 'fetching', 'the accepted copy is remembered')
    await until(swarm, () => completeHolders(swarm.nodes, added.cid).includes(back), 'the restarted holder completes its copy')
    assert.ok(await back.repo.pins.isPinned(added.cid))
  })
})
