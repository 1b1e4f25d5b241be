import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as varint from 'uint8-varint'
import { MAX_PEX_CANDIDATES, PEX_DIALS_PER_SECOND } from '../../src/exchange/constants.js'
import { DHT_PROTOCOL } from '../../src/node/create-libp2p.js'
import { Request, Response } from '../../src/protocol/pb/blocks.js'
import { BITSWAP_PROTOCOLS, BLOCK_PROTOCOL, REPLICA_PROTOCOL, REPLICA_REQUEST_TIMEOUT, SWARM_PROTOCOL } from '../../src/protocol/constants.js'
import { Abuser, Flooder, floods, framed, randomCid } from '../helpers/abuser.js'
import type { Flood } from '../helpers/abuser.js'
import { DaemonProcess as Daemon, loopbackHost, sha256File, shoalOk, shoalStreaming, useDaemons } from '../helpers/cli.js'
import { figures, rssOf, usageDuring } from '../helpers/usage.js'
import type { Usage } from '../helpers/usage.js'
import { Message, MessageType, Record } from '../helpers/dht-message.js'
import type { DaemonProcess } from '../helpers/cli.js'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type { ProtobufStream } from '@libp2p/utils'

const PROTOCOLS = [BLOCK_PROTOCOL, SWARM_PROTOCOL, REPLICA_PROTOCOL]

/** Read until the daemon ends or resets the stream; what it sent, and whether it ended it within `timeout`. */
async function drain (stream: Stream, timeout = 15_000): Promise<{ ended: boolean, received: Uint8Array[] }> {
  const received: Uint8Array[] = []
  const timer = setTimeout(() => { stream.abort(new Error('test gave up waiting')) }, timeout)
  let ended = true
  try {
    for await (const chunk of stream) received.push(chunk.subarray())
  } catch (err: any) {
    if (err.message === 'test gave up waiting') ended = false
  } finally {
    clearTimeout(timer)
  }
  return { ended, received }
}

/**
 * A hand-made hostile peer (plain libp2p: TCP, noise, yamux, no Shoal code)
 * against a real `shoal daemon` process, while an honest daemon downloads
 * from it.
 */
describe('cli: a hostile peer against a daemon', function () {
  this.timeout(180_000)
  const scope = useDaemons()
  let target: DaemonProcess
  let honest: DaemonProcess
  let hostile: Libp2p
  let file: string
  let cid: string

  /** The target keeps at most this many provider records for one other peer (lowered for the test). */
  const PROVIDER_QUOTA = 300

  before(async () => {
    const repo = scope.repo('target')
    await shoalOk(['init', '--repo', repo])
    const configFile = path.join(repo, 'config.json')
    const config = JSON.parse(await fs.readFile(configFile, 'utf8'))
    config.limits.maxProviderRecordsPerPeer = PROVIDER_QUOTA
    // these tests try one attack after another from one peer: no ban for breaking the protocol
    // here (the ban has its own test below)
    config.limits.maxViolations = 1_000_000
    await fs.writeFile(configFile, JSON.stringify(config))
    target = scope.track(await Daemon.start(repo))
    honest = await scope.start('honest', ['--bootstrap', target.addresses[0]])
    file = path.join(scope.dir, 'shared')
    await fs.writeFile(file, randomBytes(24 * 1024 * 1024))
    cid = JSON.parse((await shoalOk(['add', file, '--json', '--repo', target.repo])).stdout).cid
    hostile = await createLibp2p({
      addresses: { listen: [`/ip4/${loopbackHost()}/tcp/0`] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
  })

  after(async () => {
    await hostile?.stop()
  })

  async function open (protocol: string): Promise<Stream> {
    return await hostile.dialProtocol(multiaddr(target.addresses[0]), protocol)
  }

  it('answers only its own user: the control socket is 0600 in a 0700 repo', async () => {
    assert.equal((await fs.stat(target.repo)).mode & 0o777, 0o700)
    const socket = await fs.stat(path.join(target.repo, 'api.sock'))
    assert.ok(socket.isSocket())
    assert.equal(socket.mode & 0o777, 0o600)
  })

  for (const protocol of PROTOCOLS) {
    it(`${protocol}: random bytes, a truncated message and a gigabyte length prefix each close the stream`, async () => {
      // random bytes, then our side ends: the daemon may not wait for the rest of a frame
      let s = await open(protocol)
      s.send(randomBytes(64 * 1024))
      await s.close()
      assert.ok((await drain(s)).ended, 'random bytes')

      // a prefix announcing 100 bytes, 10 of them sent, then our side ends (ten times: the
      // close often arrives before the daemon reads, which once left the stream open)
      for (let i = 0; i < 10; i++) {
        s = await open(protocol)
        s.send(Uint8Array.from([...varint.encode(100), ...randomBytes(10)]))
        await s.close()
        assert.ok((await drain(s, 5_000)).ended, `truncated message, attempt ${i + 1}`)
      }

      // 2^40 bytes announced: refused before any body arrives, the stream left open on our side
      s = await open(protocol)
      s.send(Uint8Array.from(varint.encode(2 ** 40)))
      assert.ok((await drain(s)).ended, 'oversized length prefix')
    })
  }

  it('a request for 100 000 CIDs closes the stream; blocks never announced get "don\'t have"', async () => {
    const cids = await Promise.all(Array.from({ length: 100_000 }, async () => (await randomCid()).bytes))
    let s = await open(BLOCK_PROTOCOL)
    s.send(framed(Request.encode({ want: cids, cancel: [] })))
    assert.ok((await drain(s)).ended)

    const unknown = await Promise.all(Array.from({ length: 8 }, async () => (await randomCid()).bytes))
    s = await open(BLOCK_PROTOCOL)
    s.send(framed(Request.encode({ want: unknown, cancel: [] })))
    let buffered = Buffer.alloc(0)
    const dontHave: string[] = []
    for await (const chunk of s) {
      buffered = Buffer.concat([buffered, chunk.subarray()])
      while (buffered.length > 0) {
        const length = varint.decode(buffered)
        const start = varint.encodingLength(length)
        if (buffered.length < start + length) break
        const res = Response.decode(buffered.subarray(start, start + length))
        assert.equal(res.blocks.length, 0)
        dontHave.push(...res.dontHave.map(c => CID.decode(c).toString()))
        buffered = buffered.subarray(start + length)
      }
      if (dontHave.length >= 8) break
    }
    assert.deepEqual(dontHave.sort(), unknown.map(c => CID.decode(c).toString()).sort())
    await s.close()
  })

  it('refuses more than 4 connections from one peer (each would bring its own stream limits)', async () => {
    const target0 = multiaddr(target.addresses[0])
    // one after the other: concurrent dials to one peer are merged by the dialer
    const results: Array<PromiseSettledResult<Connection>> = []
    for (let i = 0; i < 10; i++) {
      results.push(await hostile.dial(target0, { force: true }).then(value => ({ status: 'fulfilled' as const, value }), reason => ({ status: 'rejected' as const, reason })))
    }
    // our side may finish its handshake before the daemon's gater refuses: the daemon then closes it
    const openCount = (): number => hostile.getConnections().filter(c => c.remotePeer.toString() === target.peerId && c.status === 'open').length
    const dialled = results.filter(r => r.status === 'fulfilled').length
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (openCount() > 4) return
        clearTimeout(timer)
        hostile.removeEventListener('connection:close', check)
        resolve()
      }
      const timer = setTimeout(() => { reject(new Error(`${openCount()} of ${dialled} connections still open`)) }, 10_000)
      hostile.addEventListener('connection:close', check)
      check()
    })
    assert.ok(openCount() <= 4)
  })

  it('a flood of DHT records cannot fill its disk: values are refused, provider records stop at the per-peer quota', async () => {
    const dht = async (): Promise<ProtobufStream<Stream>> => pbStream(await open(DHT_PROTOCOL))
    const self = { id: hostile.peerId.toMultihash().bytes, multiaddrs: hostile.getMultiaddrs().map(m => m.bytes) }

    // 1 000 ADD_PROVIDER for random CIDs, each on its own stream (a refused one closes its
    // stream), 16 at a time (below the DHT's limit of streams per peer)
    const keys = await Promise.all(Array.from({ length: 1_000 }, async () => (await randomCid()).multihash.bytes))
    for (let i = 0; i < keys.length; i += 16) {
      await Promise.all(keys.slice(i, i + 16).map(async key => {
        const s = await dht()
        await s.write({ type: MessageType.ADD_PROVIDER, key, closer: [], providers: [self] }, Message)
        await s.unwrap().close().catch(() => {})
        await drain(s.unwrap())
      }))
    }
    // which of them does the daemon now name us as a provider for?
    let kept = 0
    const asking = await dht()
    for (const key of keys) {
      await asking.write({ type: MessageType.GET_PROVIDERS, key, closer: [], providers: [] }, Message)
      const answer = await asking.read(Message)
      if (answer.providers.some(p => Buffer.from(p.id).equals(Buffer.from(self.id)))) kept++
    }
    assert.equal(kept, PROVIDER_QUOTA, `${kept} of ${keys.length} provider records kept`)

    // 200 valid public-key records under keys nobody uses: PUT_VALUE is refused, nothing is stored
    const records = await Promise.all(Array.from({ length: 200 }, async () => {
      const key = await generateKeyPair('Ed25519')
      const name = Uint8Array.from([...Buffer.from('/pk/'), ...key.publicKey.toMultihash().bytes])
      const record = Record.encode({ key: name, value: new Uint8Array(publicKeyToProtobuf(key.publicKey)), timeReceived: new Date().toISOString() })
      return { name, record }
    }))
    let refused = 0
    for (const { name, record } of records) {
      const s = await dht()
      await s.write({ type: MessageType.PUT_VALUE, key: name, record, closer: [], providers: [] }, Message)
      // an accepted PUT_VALUE is echoed back; a refused one ends the stream
      if (await s.read(Message).then(() => false, () => true)) refused++
      await s.unwrap().close().catch(() => {})
    }
    assert.equal(refused, records.length)
    const reading = await dht()
    for (const { name } of records) {
      await reading.write({ type: MessageType.GET_VALUE, key: name, closer: [], providers: [] }, Message)
      assert.equal((await reading.read(Message)).record, undefined)
    }
    await reading.unwrap().close()
    await asking.unwrap().close()
  })

  it('an unknown replica operation closes the stream without an answer', async () => {
    const s = await open(REPLICA_PROTOCOL)
    // field 1 (op), varint 99: no such operation (the codec will not even encode it)
    s.send(framed(Uint8Array.from([0x08, 99])))
    const { ended, received } = await drain(s)
    assert.ok(ended)
    assert.equal(received.length, 0)
  })

  it('thousands of idle streams are refused past the per-peer limit; an honest get meanwhile completes and the daemon stays bounded', async () => {
    const before = await rssOf(target.child.pid!)
    const getting = shoalOk(['get', cid, '-o', path.join(scope.dir, 'copy'), '--json', '--repo', honest.repo], { timeout: 120_000 })
    // one connection, 2 000 streams across the three protocols, left idle
    const connection = await hostile.dial(multiaddr(target.addresses[0]))
    const opened: Stream[] = []
    let refused = 0
    await Promise.all(Array.from({ length: 2_000 }, async (_, i) => {
      try {
        const s = await connection.newStream(PROTOCOLS[i % PROTOCOLS.length])
        opened.push(s)
      } catch {
        refused++
      }
    }))
    // a stream opens at once on our side; the daemon resets those past its limits. Those still
    // open after a few seconds are the ones it accepted: per connection at most 32 block, 64
    // swarm and 16 replica streams
    const idle = (await Promise.all(opened.map(async s => await drain(s, 3_000)))).filter(r => !r.ended).length
    assert.ok(idle <= 32 + 64 + 16, `${idle} idle streams accepted`)
    assert.ok(refused + (opened.length - idle) >= 2_000 - 112)

    const result = await getting
    assert.equal(JSON.parse(result.stdout.trim().split('\n').pop()!).bytes, 24 * 1024 * 1024)
    assert.equal(await sha256File(path.join(scope.dir, 'copy')), await sha256File(file))

    // still up and answering, and its memory did not run away
    const id = JSON.parse((await shoalOk(['id', '--json', '--repo', target.repo])).stdout)
    assert.equal(id.peerId, target.peerId)
    const after = await rssOf(target.child.pid!)
    assert.ok(after - before < 150 * 1024 * 1024, `RSS grew from ${before >> 20} to ${after >> 20} MiB`)
  })
})

describe('cli: a peer that keeps breaking the protocol', function () {
  this.timeout(60_000)
  const scope = useDaemons()

  it('is forgiven a few malformed messages, banned at the eighth: hung up on and refused; an honest peer is served', async () => {
    const target = await scope.start('target')
    const honest = await scope.start('honest', ['--bootstrap', target.addresses[0]])
    const file = path.join(scope.dir, 'shared')
    await fs.writeFile(file, randomBytes(1024 * 1024))
    const cid = JSON.parse((await shoalOk(['add', file, '--json', '--repo', target.repo])).stdout).cid
    const hostile = await createLibp2p({
      addresses: { listen: [`/ip4/${loopbackHost()}/tcp/0`] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    const banned = async (): Promise<string[]> =>
      JSON.parse((await shoalOk(['stat', '--json', '--repo', target.repo])).stdout).banned.map((b: any) => `${b.peer as string} ${b.reason as string}`)
    try {
      const offend = async (i: number): Promise<void> => {
        const s = await hostile.dialProtocol(multiaddr(target.addresses[0]), PROTOCOLS[i % PROTOCOLS.length])
        s.send(i % 2 === 0 ? Uint8Array.from(varint.encode(2 ** 40)) : Uint8Array.from([...varint.encode(100), ...randomBytes(10)]))
        if (i % 2 === 1) await s.close()
        assert.ok((await drain(s)).ended)
      }
      for (let i = 0; i < 7; i++) await offend(i)
      assert.deepEqual(await banned(), [], 'seven violations are forgiven')

      const hungUp = new Promise<void>(resolve => {
        hostile.addEventListener('connection:close', () => { if (hostile.getConnections().length === 0) resolve() })
      })
      await offend(7)
      await hungUp
      const bans = await banned()
      assert.equal(bans.length, 1)
      assert.match(bans[0], new RegExp(`^${hostile.peerId.toString()} broke the wire protocol 8 times`))
      await assert.rejects(hostile.dialProtocol(multiaddr(target.addresses[0]), BLOCK_PROTOCOL), 'a banned peer cannot come back')

      const out = path.join(scope.dir, 'copy')
      await shoalOk(['get', cid, '-o', out, '--repo', honest.repo])
      assert.equal(await sha256File(out), await sha256File(file))
    } finally {
      await hostile.stop()
    }
  })
})

describe('cli: one daemon under load and abuse', function () {
  this.timeout(240_000)
  const scope = useDaemons()

  it('serves 16 concurrent gets of different files while a hostile peer floods it; every download verifies', async () => {
    const seeder = await scope.start('seeder')
    const downloaders: DaemonProcess[] = []
    for (let i = 0; i < 4; i++) downloaders.push(await scope.start(`d${i}`, ['--bootstrap', seeder.addresses[0]]))
    const files: Array<{ path: string, cid: string }> = []
    for (let i = 0; i < 16; i++) {
      const file = path.join(scope.dir, `f${i}`)
      await fs.writeFile(file, randomBytes(4 * 1024 * 1024))
      files.push({ path: file, cid: JSON.parse((await shoalOk(['add', file, '--json', '--repo', seeder.repo])).stdout).cid })
    }

    // the abuser: junk, truncated messages, want floods, DHT records and idle streams, until told to stop
    const abuser = await Abuser.start(seeder.addresses[0])
    // the gets start once the flood is under way (it first holds a hundred idle streams)
    await abuser.attacked(10)
    const attacksBefore = abuser.attacks

    const started = performance.now()
    await Promise.all(files.map(async (f, i) => {
      const out = path.join(scope.dir, `out${i}`)
      await shoalOk(['get', f.cid, '-o', out, '--repo', downloaders[i % 4].repo], { timeout: 180_000 })
      assert.equal(await sha256File(out), await sha256File(f.path))
    }))
    const seconds = (performance.now() - started) / 1000
    await abuser.stop()
    const attacks = abuser.attacks

    const status = await fs.readFile(`/proc/${seeder.child.pid!}/status`, 'utf8')
    const peak = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
    assert.ok(attacks > attacksBefore, `the flood went on during the gets: ${attacksBefore} attacks before, ${attacks} after`)
    assert.equal(JSON.parse((await shoalOk(['id', '--json', '--repo', seeder.repo])).stdout).peerId, seeder.peerId)
    // figures for the record (measured, not asserted)
    console.log(`      load: 16 × 4 MiB in ${seconds.toFixed(1)} s = ${(64 / seconds).toFixed(1)} MiB/s with ${attacks} attacks from ${abuser.identities} peer IDs; seeder peak RSS ${peak.toFixed(0)} MiB`)
  })
})

/**
 * Floods a stranger can send (no group membership needed), each against a
 * real daemon while an honest daemon downloads from it (or it downloads):
 * the same download alone first, as the baseline, then under the flood.
 * CPU and memory of the daemon flooded are measured over each download and
 * printed. Before their bounds (this machine, these tests, a fresh pair of
 * daemons each), a 24 MiB get took 3.5 s alone and 32 s under want-haves,
 * the seeder at 80 % of a core and 2.2 GB; 3.0 s and 7.0 s under
 * unsolicited blocks, the downloader at 98 % and 1.8 GB; 3.0 s and 13 s
 * under peer lists, the downloader at 100 % and 660 MB, 300 made-up peers
 * dialled; under bad bitfields the seeder used 93 % of a core (10 % alone).
 * The limits asserted are far above the baselines and far below that.
 */
describe('cli: floods from strangers, each beside an honest download', function () {
  this.timeout(300_000)
  const scope = useDaemons()
  const MiB = 1024 * 1024
  let seeder: DaemonProcess
  /** The honest downloader, with a download limit (8 MiB/s): each get lasts a few seconds, and the limit is in play. */
  let slow: DaemonProcess

  /** The seeder closes streams idle for this long (the default, 120 s, would make the idle test wait two minutes). */
  const IDLE_TIMEOUT = 15_000

  before(async () => {
    const repo = scope.repo('seeder')
    await shoalOk(['init', '--repo', repo])
    const config = JSON.parse(await fs.readFile(path.join(repo, 'config.json'), 'utf8'))
    config.limits = { ...config.limits, streamIdleTimeout: IDLE_TIMEOUT }
    await fs.writeFile(path.join(repo, 'config.json'), JSON.stringify(config))
    seeder = scope.track(await Daemon.start(repo))
    slow = await scope.start('slow', ['--bootstrap', seeder.addresses[0], '--max-download-rate', '8MiB'])
  })

  /** A new file of 24 MiB of random bytes that the seeder shares. */
  async function shared (name: string): Promise<{ path: string, cid: string }> {
    const file = path.join(scope.dir, name)
    await fs.writeFile(file, randomBytes(24 * MiB))
    return { path: file, cid: JSON.parse((await shoalOk(['add', file, '--json', '--repo', seeder.repo])).stdout).cid }
  }

  /** `slow` gets `file` and the copy is checked; `onStart` runs once the download has begun. */
  async function get (file: { path: string, cid: string }, onStart?: () => void): Promise<void> {
    const out = path.join(scope.dir, `copy-${path.basename(file.path)}`)
    let started = false
    const result = await shoalStreaming(['get', file.cid, '-o', out, '--json', '--repo', slow.repo], line => {
      if (!started && line.includes('"progress"')) {
        started = true
        onStart?.()
      }
    }, { timeout: 180_000 })
    assert.equal(result.code, 0, result.stderr)
    assert.equal(await sha256File(out), await sha256File(file.path))
  }

  /** Why each peer `d` has banned was banned. */
  async function banReasons (d: DaemonProcess): Promise<string[]> {
    return JSON.parse((await shoalOk(['stat', '--json', '--repo', d.repo])).stdout).banned.map((b: any) => b.reason as string)
  }

  interface FloodRun { baseline: Usage, flood: Usage, sent: number, identities: number, seconds: number, bans: string[] }

  /**
   * A get of one file alone, then of another while `flood` runs against
   * `victim` (started `beforeGet`, or once the get has begun); the victim's
   * usage over each get, and the bans the flood earned.
   */
  async function underFlood (name: string, victim: DaemonProcess, flood: (flooded: { cid: string }) => Flood, beforeGet = true): Promise<FloodRun> {
    const alone = await shared(`${name}-alone`)
    const flooded = await shared(`${name}-flooded`)
    const baseline = await usageDuring(victim.child.pid!, async () => { await get(alone) })
    const bansBefore = (await banReasons(victim)).length
    let flooder: Flooder | undefined
    let started = 0
    const starting = async (): Promise<void> => {
      started = performance.now()
      flooder = await Flooder.start(victim.addresses[0], flood(flooded))
    }
    if (beforeGet) {
      await starting()
      await flooder!.flowing(4)
    }
    const sentBefore = flooder?.sent ?? 0
    let launched: Promise<void> | undefined
    const usage = await usageDuring(victim.child.pid!, async () => {
      await get(flooded, beforeGet ? undefined : () => { launched = starting() })
    })
    await launched
    assert.ok(flooder != null)
    const run = { baseline, flood: usage, sent: flooder.sent - sentBefore, identities: flooder.identities, seconds: (performance.now() - started) / 1000, bans: [] as string[] }
    await flooder.stop()
    run.bans = (await banReasons(victim)).slice(bansBefore)
    return run
  }

  /** What every flood must leave: the get not much slower, CPU and memory near the baseline (far below their cost unbounded), the flood banned for what it did. */
  function assertBounded (run: FloodRun, banned: RegExp): void {
    const { baseline, flood } = run
    assert.ok(run.sent > 0, 'the flood went on during the get')
    assert.ok(run.bans.length >= 1 && run.bans.every(r => banned.test(r)), `bans: ${run.bans.join('; ')}`)
    assert.ok(flood.seconds < baseline.seconds * 1.5 + 2, `the get took ${flood.seconds.toFixed(1)} s under the flood, ${baseline.seconds.toFixed(1)} s alone`)
    assert.ok(flood.cores < baseline.cores + 0.5, `CPU ${flood.cores.toFixed(2)} cores under the flood, ${baseline.cores.toFixed(2)} alone`)
    // a flood decoded at network speed leaves garbage until the next full collection: under a want-have
    // flood for 30 s the heap in use swung between 30 and 140 MiB and RSS settled some 150 MiB above idle
    // (it fell back to 30 MiB used once the flood ended); unbounded, RSS went past 2 GB in seconds
    assert.ok(flood.rssPeak < baseline.rssPeak + 128, `peak RSS ${flood.rssPeak.toFixed(0)} MiB under the flood, ${baseline.rssPeak.toFixed(0)} alone`)
  }

  it('want-have floods (Bitswap): lookups at a bounded rate per peer, a peer that keeps asking faster is banned', async () => {
    // 200 want-haves a message, as fast as the seeder takes them
    const run = await underFlood('want-haves', seeder, () => floods.wantHaves(200))
    console.log(figures('want-have flood (the seeder)', run.baseline, run.flood, `${run.sent} messages of 200 want-haves during the get, from ${run.identities} peer IDs, ${run.bans.length} banned`))
    assertBounded(run, /requests queued, more than \d+/)
  })

  it('bitfields that do not fit (2^32 - 1 leaves in one byte) are refused before anything is allocated, bitfields without end are a flood; either gets a peer banned', async () => {
    const run = await underFlood('bitfields', seeder, flooded => floods.bitfields(CID.parse(flooded.cid).bytes))
    console.log(figures('bitfield flood (the seeder)', run.baseline, run.flood, `${run.sent} bitfields during the get, from ${run.identities} peer IDs, ${run.bans.length} banned`))
    assertBounded(run, /bitfield of 1 bytes for 4294967295 leaves|bitfields sent faster than allowed/)
  })

  it('blocks nobody asked for, sent to a downloader under a download limit: dropped unread, the sender banned; the limit keeps its backpressure', async () => {
    // messages of one 1 MiB block each, as fast as the downloader takes them
    const run = await underFlood('unsolicited', slow, () => floods.unsolicitedBlocks(MiB))
    console.log(figures('unsolicited blocks (the downloader, 8 MiB/s limit)', run.baseline, run.flood, `${run.sent} MiB of blocks sent during the get, from ${run.identities} peer IDs, ${run.bans.length} banned`))
    // whether it was asked for nothing, or (the downloader asks every peer it meets over Bitswap too) for other blocks;
    // a ban names the last of its violations, and a flooder stopped halfway through a 1 MiB message (when the get
    // ends, the flood is stopped) breaks the wire protocol once more, its stream ending inside that message
    assertBounded(run, /block\(s\) (though asked for none|nobody asked it for)|stream ended inside a message/)
  })

  it('peer exchange from a stranger: made-up peers never dialled faster than the bound, a peer sending lists without end is banned', async () => {
    // every made-up peer is "at" this listener, which counts the downloader's dials
    let dials = 0
    const listener = net.createServer(socket => { dials++; socket.destroy() })
    const host = loopbackHost()
    await new Promise<void>(resolve => listener.listen(0, host, resolve))
    const addr = multiaddr(`/ip4/${host}/tcp/${(listener.address() as net.AddressInfo).port}`)
    try {
      // the stranger joins the swarm of the root being downloaded, once the download has begun
      const run = await underFlood('peer-lists', slow, flooded => floods.peerRecords(CID.parse(flooded.cid).bytes, addr), false)
      console.log(figures('peer-exchange flood (the downloader)', run.baseline, run.flood, `${run.sent} lists of 50 made-up peers in ${run.seconds.toFixed(1)} s, from ${run.identities} peer IDs, ${run.bans.length} banned; ${dials} made-up peers dialled`))
      assertBounded(run, /peer lists sent faster than allowed/)
      // however many identities it took: 64 at once, then 4 a second (each peer at most once)
      assert.ok(dials <= MAX_PEX_CANDIDATES + PEX_DIALS_PER_SECOND * Math.ceil(run.seconds) + 4, `${dials} dials in ${run.seconds.toFixed(1)} s`)
    } finally {
      listener.close()
    }
  })

  it('streams a stranger opens and leaves idle, on every Shoal protocol and Bitswap, are closed within the idle time; an honest get meanwhile is not slowed', async () => {
    const alone = await shared('idle-alone')
    const meanwhile = await shared('idle-meanwhile')
    const baseline = await usageDuring(seeder.child.pid!, async () => { await get(alone) })
    const stranger = await createLibp2p({
      addresses: { listen: [`/ip4/${loopbackHost()}/tcp/0`] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()]
    })
    try {
      const protocols = [...PROTOCOLS, BITSWAP_PROTOCOLS[0]]
      const connection = await stranger.dial(multiaddr(seeder.addresses[0]))
      const opened: Array<{ protocol: string, stream: Stream, closed: Promise<number> }> = []
      const started = performance.now()
      const flood = await usageDuring(seeder.child.pid!, async () => {
        const getting = get(meanwhile)
        // 500 streams across the four protocols, opened and left idle: those past the limits are reset at once
        await Promise.all(Array.from({ length: 500 }, async (_, i) => {
          const protocol = protocols[i % protocols.length]
          try {
            const stream = await connection.newStream(protocol)
            opened.push({ protocol, stream, closed: new Promise(resolve => { stream.addEventListener('close', () => { resolve((performance.now() - started) / 1000) }, { once: true }) }) })
          } catch {}
        }))
        await getting
      })
      // the streams it accepted (per connection 32 block, 64 swarm, 16 replica, 32 Bitswap) stay open until their time is up
      const open = opened.filter(o => o.stream.status === 'open')
      assert.ok(open.length > 0 && open.length <= 32 + 64 + 16 + 32, `${open.length} idle streams accepted`)
      const closedAfter = new Map<string, number[]>()
      for (const o of open) closedAfter.set(o.protocol, [...closedAfter.get(o.protocol) ?? [], await o.closed])
      const span = (p: string): string => `${p} ${closedAfter.get(p)?.length ?? 0} (${Math.min(...closedAfter.get(p) ?? [0]).toFixed(0)}-${Math.max(...closedAfter.get(p) ?? [0]).toFixed(0)} s)`
      console.log(figures('idle streams', baseline, flood, `of ${opened.length} streams opened, accepted and left idle, closed by the daemon after: ${protocols.map(span).join(', ')}`))
      assert.ok(open.every(o => o.stream.status === 'reset'), 'closed by the daemon')
      for (const [protocol, after] of closedAfter) {
        // a replica stream waits 10 s for its one request; every other one its idle time
        const limit = protocol === REPLICA_PROTOCOL ? REPLICA_REQUEST_TIMEOUT / 1000 : IDLE_TIMEOUT / 1000
        assert.ok(Math.min(...after) >= limit - 5 && Math.max(...after) <= limit + 20, `${protocol}: closed ${Math.min(...after).toFixed(0)}-${Math.max(...after).toFixed(0)} s after opening`)
      }
      assert.ok(flood.seconds < baseline.seconds * 1.5 + 2, `the get took ${flood.seconds.toFixed(1)} s beside the idle streams, ${baseline.seconds.toFixed(1)} s alone`)
      assert.ok(flood.cores < baseline.cores + 0.5, `CPU ${flood.cores.toFixed(2)} cores beside the idle streams, ${baseline.cores.toFixed(2)} alone`)
      assert.ok(flood.rssPeak < baseline.rssPeak + 64, `peak RSS ${flood.rssPeak.toFixed(0)} MiB beside the idle streams, ${baseline.rssPeak.toFixed(0)} alone`)
    } finally {
      await stranger.stop()
    }
  })
})
