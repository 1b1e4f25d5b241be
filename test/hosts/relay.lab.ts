import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DaemonProcess, sha256File, shoal, SHOAL_BIN, shoalOk, summaryOf, tempDir, untilValue } from '../helpers/cli.js'
import { HostLab } from '../../src/lab/host-lab.js'
import type { Host, NatKind } from '../../src/lab/host-lab.js'

const MiB = 1024 * 1024
const PORT = 4401

/**
 * Shoal behind home routers (the host lab's NATs): a public member of the
 * replication group runs the relay; peers behind a port-restricted cone and
 * a symmetric NAT find that they are private, reserve a slot on it without
 * being told to, and fetch and replicate each other's files through it by
 * CID alone; the peer behind a UPnP router has its port forwarded and is
 * dialled directly. Run with `npm run test:hosts` (root needed).
 */
describe('hosts: peers behind NAT, through their group\'s relay', function () {
  this.timeout(600_000)
  let lab: HostLab
  let dir: string
  let groupKey: string
  const daemons = new Map<string, DaemonProcess>()
  const hosts = new Map<string, Host>()
  let relayAddress = ''
  let stun = ''

  async function start (name: string, args: string[] = []): Promise<DaemonProcess> {
    const host = hosts.get(name)!
    const d = new DaemonProcess(path.join(dir, name), ['--listen', `/ip4/0.0.0.0/tcp/${PORT}`, '--group-key', groupKey, '--check-interval', '0.5', '--stun', stun, ...args], {}, SHOAL_BIN,
      (cmd, a, options) => lab.spawn(host.index, cmd, a, options))
    daemons.set(name, d)
    await d.ready
    return d
  }

  const repo = (name: string): string => path.join(dir, name)

  async function idOf (name: string): Promise<{ addresses: string[], reachability: { state: string, reason: string, relayed: string[] } }> {
    return JSON.parse((await shoalOk(['id', '--json', '--repo', repo(name)])).stdout)
  }

  async function get (name: string, cid: string, out: string): Promise<{ seconds: number, summary: any }> {
    const started = Date.now()
    const r = await shoal(['get', cid, '-o', out, '--json', '--repo', repo(name)], { timeout: 180_000 })
    assert.equal(r.code, 0, `${name}: ${r.stderr}\n${name}'s log ends:\n${daemons.get(name)!.log.split('\n').slice(-30).join('\n')}`)
    return { seconds: (Date.now() - started) / 1000, summary: summaryOf(r) }
  }

  const natted: Array<[string, NatKind]> = [['cone1', 'cone'], ['cone2', 'cone'], ['symmetric', 'symmetric'], ['upnp', 'upnp']]

  before(async () => {
    dir = await tempDir()
    groupKey = path.join(dir, 'group.key')
    await fs.writeFile(groupKey, (await shoalOk(['group-key'])).stdout, { mode: 0o600 })
    lab = await HostLab.create({ hosts: 0 })
    hosts.set('relay', await lab.addHost())
    hosts.set('public', await lab.addHost())
    for (const [name, kind] of natted) hosts.set(name, await lab.addHost({ behind: await lab.addRouter({ kind }) }))
    hosts.set('newcomer', await lab.addHost({ behind: await lab.addRouter({ kind: 'cone' }) }))
    hosts.set('symmetric2', await lab.addHost({ behind: await lab.addRouter({ kind: 'symmetric' }) }))
    hosts.set('upnp2', await lab.addHost({ behind: await lab.addRouter({ kind: 'upnp' }) }))
    const server = await lab.startStun(hosts.get('public')!.index)
    stun = `stun:${server.ip}:${server.port}`
  })

  after(async () => {
    await Promise.all([...daemons.values()].map(async d => await d.kill('SIGKILL')))
    await lab?.destroy()
    await fs.rm(dir, { recursive: true, force: true })
  })

  it('each peer behind a NAT finds it is private and reserves a slot on the group\'s relay by itself; the relay finds it is public', async () => {
    const relay = await start('relay', ['--relay-service'])
    relayAddress = relay.addresses[0]
    await start('public', ['--bootstrap', relayAddress])
    const reserved: string[] = []
    for (const [name] of natted.filter(([, kind]) => kind !== 'upnp')) {
      const started = Date.now()
      await start(name, ['--bootstrap', relayAddress])
      const id = await untilValue(`${name} to hold a reservation`, 60_000, async () => {
        const id = await idOf(name)
        return id.reachability.relayed.length > 0 ? id : undefined
      })
      reserved.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)} s`)
      assert.equal(id.reachability.state, 'private', JSON.stringify(id.reachability))
      assert.match(id.reachability.reason, /behind a NAT: peers see it at \/ip4\/11\./)
      // what it tells others (identify, the DHT) includes its relayed address, on this relay
      assert.ok(id.addresses.some(a => a.startsWith(`${relayAddress}/p2p-circuit`)), id.addresses.join(' '))
    }
    console.log(`      time from start to a reservation on the relay: ${reserved.join(', ')}`)
    const relayId = await untilValue('the relay to know it is public', 30_000, async () => {
      const id = await idOf('relay')
      return id.reachability.state === 'public' ? id : undefined
    })
    assert.match(relayId.reachability.reason, /a peer dialled it directly from 11\./)
    const stat = JSON.parse((await shoalOk(['stat', '--json', '--repo', repo('relay')])).stdout)
    assert.equal(stat.relaying.reservations, 3)
  })

  it('the peer behind the UPnP router has its port forwarded, knows it is public, and is reached directly', async () => {
    const started = Date.now()
    await start('upnp', ['--bootstrap', relayAddress])
    const router = hosts.get('upnp')!.router!
    const id = await untilValue('the router to forward the port', 60_000, async () => {
      const id = await idOf('upnp')
      return id.reachability.state === 'public' ? id : undefined
    })
    console.log(`      UPnP: port forwarded and public ${((Date.now() - started) / 1000).toFixed(1)} s after start`)
    assert.match(id.reachability.reason, new RegExp(`its router forwards /ip4/${router.publicIp.replace(/\./g, '\\.')}/tcp/\\d+ to it \\(UPnP\\)`))
    const forwarded = id.addresses.find(a => a.startsWith(`/ip4/${router.publicIp}/tcp/`))
    assert.ok(forwarded != null, id.addresses.join(' '))
    // a peer behind a cone gets its file over a direct connection to the forwarded port
    const input = path.join(dir, 'from-upnp')
    await fs.writeFile(input, randomBytes(4 * MiB))
    const { cid } = JSON.parse((await shoalOk(['add', input, '--json', '--repo', repo('upnp')])).stdout)
    const out = path.join(dir, 'from-upnp-out')
    const { summary } = await get('cone1', cid, out)
    assert.equal(await sha256File(out), await sha256File(input))
    assert.deepEqual(summary.peers.map((p: any) => p.peerId), [daemons.get('upnp')!.peerId])
    // the forwarded port, or a hole punched while the peer was still private; a connection made
    // through the relay before the port was forwarded moves to the port once the peer says it has one
    await untilValue('cone1 to reach the upnp peer directly', 30_000, async () => {
      const peers = JSON.parse((await shoalOk(['peers', '--json', '--repo', repo('cone1')])).stdout)
      const toUpnp = peers.find((p: any) => p.peerId === daemons.get('upnp')!.peerId)
      return toUpnp?.addresses.some((a: string) => !a.includes('/p2p-circuit') || a.includes('/webrtc/')) === true ? toUpnp : undefined
    })
  })

  it('a file added behind one NAT is fetched by CID from behind every other NAT and from the public peer, byte for byte', async () => {
    const input = path.join(dir, 'from-cone1')
    await fs.writeFile(input, randomBytes(8 * MiB))
    const { cid } = JSON.parse((await shoalOk(['add', input, '--json', '--repo', repo('cone1')])).stdout)
    const took: string[] = []
    for (const name of ['cone2', 'symmetric', 'upnp', 'public']) {
      const out = path.join(dir, `${name}-out`)
      const { seconds } = await get(name, cid, out)
      took.push(`${name} ${seconds.toFixed(1)} s`)
      assert.equal(await sha256File(out), await sha256File(input), name)
    }
    console.log(`      8 MiB from behind a cone: ${took.join(', ')}`)
    // and the other way: added behind the symmetric NAT, fetched behind a cone
    const second = path.join(dir, 'from-symmetric')
    await fs.writeFile(second, randomBytes(4 * MiB))
    const added = JSON.parse((await shoalOk(['add', second, '--json', '--repo', repo('symmetric')])).stdout)
    const out = path.join(dir, 'cone1-out')
    const { summary, seconds } = await get('cone1', added.cid, out)
    console.log(`      4 MiB from behind the symmetric NAT to behind a cone: ${seconds.toFixed(1)} s`)
    assert.equal(await sha256File(out), await sha256File(second))
    assert.deepEqual(summary.peers.map((p: any) => p.peerId), [daemons.get('symmetric')!.peerId])
    const peers = JSON.parse((await shoalOk(['peers', '--json', '--repo', repo('cone1')])).stdout)
    const toSymmetric = peers.find((p: any) => p.peerId === daemons.get('symmetric')!.peerId)
    assert.ok(toSymmetric?.addresses.every((a: string) => a.includes('/p2p-circuit')), JSON.stringify(toSymmetric))
  })

  /** Bytes in and out of a lab host's interface (what crossed it). */
  async function traffic (name: string): Promise<number> {
    const dev = await lab.exec(hosts.get(name)!.index, 'cat', ['/proc/net/dev'])
    const line = dev.split('\n').find(l => l.trim().startsWith('eth0:'))!
    const fields = line.split(':')[1].trim().split(/\s+/).map(Number)
    return fields[0] + fields[8]
  }

  async function connectionTo (from: string, to: string): Promise<string[]> {
    const peers = JSON.parse((await shoalOk(['peers', '--json', '--repo', repo(from)])).stdout)
    return peers.find((p: any) => p.peerId === daemons.get(to)!.peerId)?.addresses ?? []
  }

  it('behind two cones a dial goes direct (WebRTC: signalling through the relay, ICE punches UDP through both NATs); a get from behind a symmetric NAT arrives whether or not a hole is found', async () => {
    // a newcomer behind a cone of its own, so the time to a direct connection is measured from nothing
    await start('newcomer', ['--bootstrap', relayAddress])
    await untilValue('the newcomer to hold a reservation', 60_000, async () => (await idOf('newcomer')).reachability.relayed.length > 0 ? true : undefined)
    const webrtcOf = async (name: string): Promise<string> => {
      const address = (await idOf(name)).addresses.find(a => a.includes('/p2p-circuit/webrtc/'))
      assert.ok(address != null, `${name} announces a WebRTC address through its relay`)
      return address
    }
    let started = Date.now()
    await shoalOk(['connect', await webrtcOf('cone1'), '--repo', repo('newcomer')])
    const punched = (Date.now() - started) / 1000
    const toCone = await connectionTo('newcomer', 'cone1')
    // beside the relayed connection the signalling went over, a direct one
    assert.ok(toCone.some(a => a.includes('/webrtc/')), toCone.join(' '))
    // toward a symmetric NAT (a new port for every destination) ICE rarely finds a path; either way the get arrives
    started = Date.now()
    const tried = await shoal(['connect', await webrtcOf('symmetric'), '--repo', repo('newcomer')], { timeout: 120_000 })
    const triedFor = (Date.now() - started) / 1000
    const input = path.join(dir, 'from-symmetric-to-newcomer')
    await fs.writeFile(input, randomBytes(MiB))
    const { cid } = JSON.parse((await shoalOk(['add', input, '--json', '--repo', repo('symmetric')])).stdout)
    const { seconds } = await get('newcomer', cid, path.join(dir, 'newcomer-out'))
    assert.equal(await sha256File(path.join(dir, 'newcomer-out')), await sha256File(input))
    const toSymmetric = await connectionTo('newcomer', 'symmetric')
    assert.ok(toSymmetric.length > 0)
    console.log(`      cone ↔ cone: direct (WebRTC) ${punched.toFixed(1)} s after the dial began; cone → symmetric: WebRTC ${tried.code === 0 ? 'connected' : 'found no path'} in ${triedFor.toFixed(1)} s, then a get in ${seconds.toFixed(1)} s over ${toSymmetric.some(a => a.includes('/webrtc')) ? 'WebRTC' : 'the relay'}`)
  })

  it('64 MiB relayed, hole punched and from a public peer, side by side in one run, with the share of bytes that crossed the relay', async () => {
    const input = path.join(dir, 'big')
    await fs.writeFile(input, randomBytes(64 * MiB))
    const figures: string[] = []
    const run = async (what: string, from: string, to: string, chunkSize: string): Promise<number> => {
      const { cid } = JSON.parse((await shoalOk(['add', input, '--chunk-size', chunkSize, '--json', '--repo', repo(from)])).stdout)
      const before = await traffic('relay')
      const { seconds, summary } = await get(to, cid, path.join(dir, `big-${to}-${chunkSize}`))
      const crossed = (await traffic('relay')) - before
      assert.equal(await sha256File(path.join(dir, `big-${to}-${chunkSize}`)), await sha256File(input))
      assert.deepEqual(summary.peers.map((p: any) => p.peerId), [daemons.get(from)!.peerId])
      // a relayed byte crosses the relay's interface twice (in, then out)
      const share = crossed / 2 / (64 * MiB)
      figures.push(`${what} ${seconds.toFixed(1)} s = ${(64 / seconds).toFixed(1)} MiB/s, ${(Math.min(share, 1) * 100).toFixed(0)} % through the relay`)
      return share
    }
    // different chunk sizes give the same bytes three roots, none held by the getter yet
    const relayedShare = await run('relayed (cone ← symmetric)', 'symmetric', 'cone1', '1048576')
    const punchedShare = await run('hole punched (cone ← cone)', 'cone1', 'cone2', '524288')
    await run('direct (NATed ← public)', 'public', 'upnp', '262144')
    console.log(`      64 MiB: ${figures.join('; ')}`)
    assert.ok(relayedShare > 0.9, `${relayedShare}`)
    assert.ok(punchedShare < 0.1, `${punchedShare}`)
  })

  it('the matrix: a peer of every kind (public, cone, symmetric, UPnP) fetches by CID from a peer of every kind, itself included', async () => {
    await start('symmetric2', ['--bootstrap', relayAddress])
    await start('upnp2', ['--bootstrap', relayAddress])
    await untilValue('the second UPnP peer to be public', 60_000, async () => (await idOf('upnp2')).reachability.state === 'public' ? true : undefined)
    await untilValue('the second symmetric peer to hold a reservation', 60_000, async () => (await idOf('symmetric2')).reachability.relayed.length > 0 ? true : undefined)
    // two peers of each kind: the getter is never the adder
    const kinds: Record<string, [string, string]> = { public: ['public', 'relay'], cone: ['cone1', 'cone2'], symmetric: ['symmetric', 'symmetric2'], upnp: ['upnp', 'upnp2'] }
    const rows: string[] = []
    for (const [fromKind, [from]] of Object.entries(kinds)) {
      for (const [toKind, pair] of Object.entries(kinds)) {
        const to = pair[0] === from ? pair[1] : pair[0]
        const input = path.join(dir, `matrix-${from}-${to}`)
        await fs.writeFile(input, randomBytes(MiB))
        const { cid } = JSON.parse((await shoalOk(['add', input, '--json', '--repo', repo(from)])).stdout)
        const { seconds, summary } = await get(to, cid, `${input}.out`)
        assert.equal(await sha256File(`${input}.out`), await sha256File(input), `${from} → ${to}`)
        assert.deepEqual(summary.peers.map((p: any) => p.peerId), [daemons.get(from)!.peerId], `${from} → ${to}`)
        const over = await connectionTo(to, from)
        const how = over.some(a => a.includes('/webrtc')) ? 'WebRTC' : over.some(a => !a.includes('/p2p-circuit')) ? 'TCP' : 'relayed'
        rows.push(`${fromKind} → ${toKind} ${how} ${seconds.toFixed(1)} s`)
      }
    }
    console.log(`      1 MiB by CID, from → to, the connection it ended on, the get's time:\n        ${rows.join('\n        ')}`)
  })

  it('a root added with --replicas 5 behind a NAT gets copies on peers behind NATs (the group has two public peers)', async () => {
    const input = path.join(dir, 'replicated')
    await fs.writeFile(input, randomBytes(3 * MiB))
    const { cid } = JSON.parse((await shoalOk(['add', input, '--replicas', '5', '--json', '--repo', repo('cone2')])).stdout)
    const status = await untilValue('five complete copies', 120_000, async () => {
      const r = await shoal(['status', cid, '--json', '--repo', repo('cone2')])
      const s = r.code === 0 ? JSON.parse(r.stdout) : undefined
      return s?.health === 'ok' && s.copies === 5 ? s : undefined
    })
    const behindNat = new Set([...natted.map(([name]) => name), 'newcomer', 'symmetric2', 'upnp2'].map(name => daemons.get(name)!.peerId))
    const holders = status.holders.filter((h: any) => h.state === 'complete').map((h: any) => h.peer)
    assert.ok(holders.filter((p: string) => behindNat.has(p)).length >= 3, JSON.stringify(status.holders))
  })
})
