import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryDatastore } from 'datastore-core'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { ReplicaOp, ReplicaState } from '../../src/protocol/replica-network.js'
import { blankEntry } from '../../src/replication/codec.js'
import { ReplicationGroup } from '../../src/replication/group.js'
import { ReplicaManager } from '../../src/replication/replica-manager.js'
import { DEFAULT_REPLICATION } from '../../src/config/schema.js'
import { ReplicaStore } from '../../src/store/replica-store.js'
import type { ReplicaHandler, ReplicaMessage, ReplicaNetwork, RootReplicas } from '../../src/protocol/replica-network.js'
import type { ReplicaManagerComponents } from '../../src/replication/replica-manager.js'
import type { PeerId } from '@libp2p/interface'

async function newPeer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

async function rootOf (text: string): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(text)))
}

const KEY = new Uint8Array(32).fill(7)

/** A replica manager on stubbed components: requests are handed to it directly, as the network would. */
class Harness {
  handler?: ReplicaHandler
  readonly fetched: string[] = []
  readonly released: string[] = []
  readonly kept: string[] = []
  /** Peers we sent a request to, in order. */
  readonly asked: string[] = []
  manager!: ReplicaManager
  self!: PeerId
  store = new ReplicaStore(new MemoryDatastore())
  /** Replica downloads finish when this resolves. */
  downloads = Promise.withResolvers<void>()

  async start (init: { maxStorage?: number, used?: number, checkInterval?: number } = {}, overrides: Partial<ReplicaManagerComponents> = {}): Promise<void> {
    this.self = await newPeer()
    const network = {
      onRequest: (h: ReplicaHandler) => { this.handler = h },
      request: async (peer: PeerId) => { this.asked.push(peer.toString()); throw new Error('offline') }
    } as unknown as ReplicaNetwork
    this.manager = new ReplicaManager({
      peerId: this.self,
      network,
      store: this.store,
      logger: defaultLogger(),
      group: new ReplicationGroup({ key: KEY }),
      candidates: async () => [],
      providers: async () => [],
      addressesOf: async () => [],
      isComplete: async () => false,
      keepReplica: async root => { this.kept.push(root.toString()) },
      fetchReplica: async root => { this.fetched.push(root.toString()); await this.downloads.promise; return undefined },
      releaseReplica: async root => { this.released.push(root.toString()) },
      usedStorage: async () => init.used ?? 0,
      diskSpace: async () => ({ free: 1e12, total: 1e12 }),
      watchRelays: async () => () => {},
      isConnected: () => false,
      ...overrides
    }, { ...DEFAULT_REPLICATION, checkInterval: init.checkInterval ?? 60_000, maxStorage: init.maxStorage ?? 0 })
    await this.manager.start()
  }

  /** `from` sends `op` about `roots`, sealed with `key` (null: no proof). */
  async send (from: PeerId, op: ReplicaOp, roots: RootReplicas[], key: Uint8Array | null = KEY): Promise<ReplicaMessage> {
    const msg = new ReplicationGroup({ key: key ?? undefined }).seal({ op, roots, proof: new Uint8Array(0) }, from, this.self)
    return await this.handler!(from, msg, AbortSignal.timeout(5_000))
  }

  async stop (): Promise<void> {
    this.downloads.resolve()
    await this.manager.stop()
  }
}

function offer (root: CID, size: number): RootReplicas {
  return { ...blankEntry(root), min: 3, max: 3, size: BigInt(size), state: ReplicaState.COMPLETE, intentSince: 1n }
}

describe('replication: admission and the replication group (stubbed components)', () => {
  let h: Harness

  afterEach(async () => { await h?.stop() })

  it('a replica still downloading after a restart counts against the storage limit', async () => {
    h = new Harness()
    // a record left by the previous run: accepted, 60 bytes, not yet complete
    const unfinished = await rootOf('unfinished')
    await h.store.put({ root: unfinished, min: 3, max: 3, size: 60, state: 'fetching', holders: [], created: 1 })
    await h.start({ maxStorage: 100 })
    assert.deepEqual(h.fetched, [unfinished.toString()], 'the unfinished download is resumed')

    const member = await newPeer()
    const next = await rootOf('next')
    const answer = await h.send(member, ReplicaOp.REPLICATE, [offer(next, 60)])
    assert.equal(answer.roots[0].state, ReplicaState.DECLINED, '60 promised + 60 offered > 100')
    assert.equal(answer.roots[0].reason, 'storage full')
    const small = await rootOf('small')
    assert.equal((await h.send(member, ReplicaOp.REPLICATE, [offer(small, 40)])).roots[0].state, ReplicaState.FETCHING, '60 + 40 fits')
  })

  it('a finished download no longer counts as promised', async () => {
    h = new Harness()
    await h.start({ maxStorage: 100 })
    const member = await newPeer()
    const first = await rootOf('first')
    assert.equal((await h.send(member, ReplicaOp.REPLICATE, [offer(first, 60)])).roots[0].state, ReplicaState.FETCHING)
    assert.equal((await h.send(member, ReplicaOp.REPLICATE, [offer(await rootOf('second'), 60)])).roots[0].state, ReplicaState.DECLINED)
    // the first completes: its bytes are now stored (counted by usedStorage, 0 here), no longer promised
    h.downloads.resolve()
    await new Promise<void>(resolve => {
      h.manager.events.addEventListener('replica:complete', () => { resolve() }, { once: true })
    })
    assert.equal((await h.send(member, ReplicaOp.REPLICATE, [offer(await rootOf('third'), 60)])).roots[0].state, ReplicaState.FETCHING)
  })

  it('a peer outside the group cannot make us store, release or count anything', async () => {
    h = new Harness()
    await h.start()
    const stranger = await newPeer()
    const root = await rootOf('a root')
    for (const key of [null, new Uint8Array(32).fill(9)]) {
      const answer = await h.send(stranger, ReplicaOp.REPLICATE, [offer(root, 10)], key)
      assert.equal(answer.roots[0].state, ReplicaState.DECLINED)
      assert.match(answer.roots[0].reason, /not in this peer's replication group/)
    }
    assert.deepEqual(h.fetched, [], 'nothing downloaded')
    assert.deepEqual(h.manager.list(), [], 'nothing recorded')

    // a member places it; the stranger then tries to release it and to pass for a holder
    const member = await newPeer()
    assert.equal((await h.send(member, ReplicaOp.REPLICATE, [offer(root, 10)])).roots[0].state, ReplicaState.FETCHING)
    const release = await h.send(stranger, ReplicaOp.RELEASE, [blankEntry(root)], null)
    assert.equal(release.roots[0].state, ReplicaState.FETCHING, 'the stranger is told what we keep; nothing is released')
    assert.deepEqual(h.released, [])
    await h.send(stranger, ReplicaOp.STATUS, [offer(root, 10)], null)
    const holders = h.manager.list()[0].holders.map(x => x.peer)
    assert.ok(!holders.includes(stranger.toString()), 'a stranger\'s claim to hold it is not counted')
    assert.ok(holders.includes(member.toString()))
    await h.send(stranger, ReplicaOp.LEAVING, [], null)
    assert.ok(h.manager.list()[0].holders.some(x => x.peer === member.toString()))
  })

  it('a proof is bound to its sender and receiver', async () => {
    const [a, b, c] = await Promise.all([newPeer(), newPeer(), newPeer()])
    const group = new ReplicationGroup({ key: KEY })
    const sealed = group.seal({ op: ReplicaOp.STATUS, roots: [], proof: new Uint8Array(0) }, a, b)
    assert.ok(group.admits(sealed, a, b))
    assert.ok(!group.admits(sealed, c, b), 'another sender cannot reuse it')
    assert.ok(!group.admits(sealed, a, c), 'nor can it be replayed to another peer')
    assert.ok(!group.admits({ ...sealed, op: ReplicaOp.RELEASE }, a, b), 'nor can the message be changed')
    assert.ok(new ReplicationGroup({ trustedPeers: [a.toString()] }).admits({ ...sealed, proof: new Uint8Array(0) }, a, b), 'a trusted peer needs no proof')
  })

  it('declines a root it could not verify, or named longer than any root Shoal keeps', async () => {
    h = new Harness()
    await h.start()
    const member = await newPeer()
    const bytes = new TextEncoder().encode('x')
    const inline = CID.createV1(0x55, identity.digest(bytes))
    // a SHA-256 multihash cannot be this long: 48 bytes of digest
    const overlong = CID.createV1(0x55, Digest.create(sha256.code, new Uint8Array(48)))
    for (const root of [inline, overlong]) {
      const answer = await h.send(member, ReplicaOp.REPLICATE, [offer(root, 1)])
      assert.equal(answer.roots[0].state, ReplicaState.DECLINED)
      assert.equal(answer.roots[0].reason, 'not a SHA-256 root')
    }
    assert.deepEqual(h.manager.list(), [])
  })

  it('without a group a peer keeps replicas for nobody and replicates nothing', async () => {
    h = new Harness()
    await h.start({}, { group: new ReplicationGroup() })
    const answer = await h.send(await newPeer(), ReplicaOp.REPLICATE, [offer(await rootOf('x'), 1)])
    assert.equal(answer.roots[0].state, ReplicaState.DECLINED)
    await assert.rejects(h.manager.replicate(await rootOf('y'), { min: 2, max: 2, size: 1 }), /replication needs a replication group/)
  })
})
