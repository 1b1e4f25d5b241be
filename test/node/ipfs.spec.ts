import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { verifyBlock } from '../../src/content/verify.js'
import { encodeBitswapBlock } from '../../src/protocol/bitswap-codec.js'
import { sha256File } from '../helpers/cli.js'
import { startHelia } from '../helpers/helia.js'
import { TestSwarm, routingTableHas } from '../helpers/nodes.js'
import type { TestHelia } from '../helpers/helia.js'

const MiB = 1024 * 1024

describe('node: IPFS interop with a stock Helia node (Bitswap, the IPFS DHT)', function () {
  this.timeout(120_000)
  const swarm = new TestSwarm()
  const helias: TestHelia[] = []

  afterEach(async () => {
    await Promise.all(helias.splice(0).map(async h => { await h.stop().catch(() => {}) }))
    await swarm.stopAll()
  })

  it('a Helia node dialled to a Shoal peer fetches a Shoal-added file over Bitswap', async () => {
    const a = await swarm.start()
    const file = await swarm.writeRandomFile('input', 5 * MiB + 777)
    const added = await a.add(file)
    const helia = await startHelia()
    helias.push(helia)
    await helia.node.libp2p.dial(a.libp2p.getMultiaddrs()[0])
    const bytes = await helia.cat(added.cid, { signal: AbortSignal.timeout(30_000) })
    assert.deepEqual(bytes, await fs.readFile(file))
    // Helia dialled with its own order (noise first), which Shoal speaks too
    assert.deepEqual(a.libp2p.getConnections(helia.node.libp2p.peerId).map(c => c.encryption), ['/noise'])
    // served under Shoal's own accounting: the ledger counts what Helia took
    const sent = a.exchange.ledger.get(helia.node.libp2p.peerId.toString())
    assert.ok(sent != null && sent.bytesSent >= 5 * MiB, `ledger: ${JSON.stringify(sent)}`)
  })

  it('a Helia node fetches a file of 1 024 leaves: its want list (all of them at once) is within Bitswap\'s bound, not a flood', async () => {
    const a = await swarm.start()
    const file = await swarm.writeRandomFile('input', 16 * MiB)
    // 16 KiB leaves: the root links all 1 024, and Helia wants them together
    const added = await a.add(file, { chunkSize: 16 * 1024 })
    const helia = await startHelia()
    helias.push(helia)
    await helia.node.libp2p.dial(a.libp2p.getMultiaddrs()[0])
    const bytes = await helia.cat(added.cid, { signal: AbortSignal.timeout(60_000) })
    assert.deepEqual(bytes, await fs.readFile(file))
    assert.equal(a.conduct.totals.flood, 0)
  })

  it('Shoal fetches a Helia-added file from the Helia node it is connected to', async () => {
    const helia = await startHelia()
    helias.push(helia)
    const data = randomBytes(3 * MiB + 5)
    const cid = await helia.add(data)
    const a = await swarm.start()
    await a.connect(helia.address)
    const out = swarm.outputPath('from-helia')
    const result = await a.get(cid, out, { providerTimeout: 20_000 })
    assert.deepEqual(await fs.readFile(out), data)
    assert.deepEqual(result.peers.map(p => p.peerId), [helia.node.libp2p.peerId.toString()])
    // Shoal dialled with its order: TLS first, which Helia speaks too
    assert.deepEqual(a.libp2p.getConnections(helia.node.libp2p.peerId).map(c => c.encryption), ['/tls/1.0.0'])
  })

  it('a swarm get pulls from a Shoal peer and a Helia peer at once', async () => {
    const seeder = await swarm.start()
    const file = await swarm.writeRandomFile('input', 24 * MiB)
    const added = await seeder.add(file)
    // the Helia node takes its copy from Shoal, then holds it
    const helia = await startHelia()
    helias.push(helia)
    await helia.node.libp2p.dial(seeder.libp2p.getMultiaddrs()[0])
    assert.deepEqual(await helia.cat(added.cid, { signal: AbortSignal.timeout(30_000) }), await fs.readFile(file))
    const leecher = await swarm.start({}, { bootstrapTo: [seeder] })
    await routingTableHas(leecher, 1)
    await leecher.connect(helia.address)
    const out = swarm.outputPath('both')
    const result = await leecher.get(added.cid, out, { providerTimeout: 20_000 })
    assert.equal(await sha256File(out), await sha256File(file))
    const from = new Map(result.peers.map(p => [p.peerId, p.blocks]))
    assert.ok((from.get(seeder.peerId.toString()) ?? 0) > 0, `blocks per peer: ${JSON.stringify(result.peers)}`)
    assert.ok((from.get(helia.node.libp2p.peerId.toString()) ?? 0) > 0, `blocks per peer: ${JSON.stringify(result.peers)}`)
  })

  it('a Helia node bootstrapped only to one Shoal peer finds the Shoal peer that holds a CID through the IPFS DHT', async () => {
    const entry = await swarm.start({ ipfsDht: true })
    const holder = await swarm.start({ ipfsDht: true }, { bootstrapTo: [entry] })
    await routingTableHas(holder, 1, 20_000, 'ipfsDht')
    const file = await swarm.writeRandomFile('input', 2 * MiB + 3)
    const added = await holder.add(file)
    await holder.discovery.provide(added.cid)
    const helia = await startHelia({ dht: true })
    helias.push(helia)
    await helia.node.libp2p.dial(entry.libp2p.getMultiaddrs()[0])
    // only the entry peer is known: the holder's address comes from the DHT
    assert.equal(helia.node.libp2p.getConnections(holder.peerId).length, 0)
    const bytes = await helia.cat(added.cid, { signal: AbortSignal.timeout(60_000) })
    assert.deepEqual(bytes, await fs.readFile(file))
    assert.ok(helia.node.libp2p.getConnections(holder.peerId).length > 0, 'Helia dialled the holder it found')
  })

  it('a Bitswap peer that sends garbage is hung up on and banned, and a block nobody asked for is never stored', async () => {
    const a = await swarm.start({ limits: { maxViolations: 3 } as any })
    const helia = await startHelia()
    helias.push(helia)
    const libp2p = helia.node.libp2p
    const target = a.libp2p.getMultiaddrs()[0]
    // a block Shoal never asked for
    const bytes = randomBytes(1000)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const unsolicited = await libp2p.dialProtocol(target, '/ipfs/bitswap/1.2.0')
    unsolicited.send(encodeBitswapBlock(verifyBlock(cid, bytes), false))
    await unsolicited.close()
    // garbage: a frame that is no protobuf, three times
    const me = libp2p.peerId.toString()
    const banned = new Promise<void>(resolve => {
      a.bans.addEventListener('ban', (e: any) => { if (e.detail.peer === me) resolve() })
    })
    for (let i = 0; i < 3 && !a.bans.isBanned(me); i++) {
      const stream = await libp2p.dialProtocol(target, '/ipfs/bitswap/1.2.0').catch(() => undefined)
      stream?.send(Uint8Array.of(3, 0xff, 0xff, 0xff))
    }
    await banned
    assert.equal(await a.repo.blocks.has(cid), false, 'the unsolicited block was not stored')
    // a well-behaved IPFS peer is still served
    const file = await swarm.writeRandomFile('input', 300_000)
    const added = await a.add(file)
    const other = await startHelia()
    helias.push(other)
    await other.node.libp2p.dial(target)
    assert.deepEqual(await other.cat(added.cid, { signal: AbortSignal.timeout(30_000) }), await fs.readFile(file))
  })
})
