import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { DaemonProcess, SHOAL_BIN, sha256File, shoal, shoalOk, summaryOf, tempDir } from '../helpers/cli.js'
import { HostLab } from '../../src/lab/host-lab.js'
import type { Host, NatKind } from '../../src/lab/host-lab.js'

const MiB = 1024 * 1024
const PORT = 4401

/**
 * Shoal behind home routers (the host lab's NATs): a public member of the
 * replication group runs the relay; peers behind a port-restricted cone, a
 * symmetric NAT and a UPnP router find that they are private, reserve a
 * slot on it without being told to, and fetch and replicate each other's
 * files through it by CID alone. Run with `npm run test:hosts` (root needed).
 */
describe('hosts: peers behind NAT, through their group\'s relay', function () {
  this.timeout(600_000)
  let lab: HostLab
  let dir: string
  let groupKey: string
  const daemons = new Map<string, DaemonProcess>()
  const hosts = new Map<string, Host>()
  let relayAddress = ''

  async function start (name: string, args: string[] = []): Promise<DaemonProcess> {
    const host = hosts.get(name)!
    const d = new DaemonProcess(path.join(dir, name), ['--listen', `/ip4/0.0.0.0/tcp/${PORT}`, '--group-key', groupKey, '--check-interval', '0.5', ...args], {}, SHOAL_BIN,
      (cmd, a, options) => lab.spawn(host.index, cmd, a, options))
    daemons.set(name, d)
    await d.ready
    return d
  }

  const repo = (name: string): string => path.join(dir, name)

  async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const value = await probe()
      if (value !== undefined) return value
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
      // polling another process's state: no event crosses the process boundary
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }

  async function idOf (name: string): Promise<{ addresses: string[], reachability: { state: string, reason: string, relayed: string[] } }> {
    return JSON.parse((await shoalOk(['id', '--json', '--repo', repo(name)])).stdout)
  }

  async function get (name: string, cid: string, out: string): Promise<{ seconds: number, summary: any }> {
    const started = Date.now()
    const r = await shoal(['get', cid, '-o', out, '--json', '--repo', repo(name)], { timeout: 180_000 })
    assert.equal(r.code, 0, `${name}: ${r.stderr}`)
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
    for (const [name] of natted) {
      const started = Date.now()
      await start(name, ['--bootstrap', relayAddress])
      const id = await until(`${name} to hold a reservation`, 60_000, async () => {
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
    const relayId = await until('the relay to know it is public', 30_000, async () => {
      const id = await idOf('relay')
      return id.reachability.state === 'public' ? id : undefined
    })
    assert.match(relayId.reachability.reason, /a peer dialled it directly from 11\./)
    const stat = JSON.parse((await shoalOk(['stat', '--json', '--repo', repo('relay')])).stdout)
    assert.equal(stat.relaying.reservations, natted.length)
  })

  it('a file added behind one NAT is fetched by CID from behind every other NAT and from the public peer, byte for byte', async () => {
    const input = path.join(dir, 'from-cone1')
    await fs.writeFile(input, randomBytes(8 * MiB))
    const { cid } = JSON.parse((await shoalOk(['add', input, '--json', '--repo', repo('cone1')])).stdout)
    for (const name of ['cone2', 'symmetric', 'upnp', 'public']) {
      const out = path.join(dir, `${name}-out`)
      await get(name, cid, out)
      assert.equal(await sha256File(out), await sha256File(input), name)
    }
    // and the other way: added behind the symmetric NAT, fetched behind a cone
    const second = path.join(dir, 'from-symmetric')
    await fs.writeFile(second, randomBytes(4 * MiB))
    const added = JSON.parse((await shoalOk(['add', second, '--json', '--repo', repo('symmetric')])).stdout)
    const out = path.join(dir, 'cone1-out')
    const { summary } = await get('cone1', added.cid, out)
    assert.equal(await sha256File(out), await sha256File(second))
    assert.deepEqual(summary.peers.map((p: any) => p.peerId), [daemons.get('symmetric')!.peerId])
    const peers = JSON.parse((await shoalOk(['peers', '--json', '--repo', repo('cone1')])).stdout)
    const toSymmetric = peers.find((p: any) => p.peerId === daemons.get('symmetric')!.peerId)
    assert.ok(toSymmetric?.addresses.every((a: string) => a.includes('/p2p-circuit')), JSON.stringify(toSymmetric))
  })

  it('64 MiB through the relay beside 64 MiB from the public peer (same run), and every byte of the first crossed the relay', async () => {
    const input = path.join(dir, 'big')
    await fs.writeFile(input, randomBytes(64 * MiB))
    const behind = JSON.parse((await shoalOk(['add', input, '--json', '--repo', repo('cone1')])).stdout)
    const relayBefore = JSON.parse((await shoalOk(['stat', '--json', '--repo', repo('relay')])).stdout)
    const relayed = await get('cone2', behind.cid, path.join(dir, 'big-relayed'))
    assert.deepEqual(relayed.summary.peers.map((p: any) => p.peerId), [daemons.get('cone1')!.peerId])
    const relayAfter = JSON.parse((await shoalOk(['stat', '--json', '--repo', repo('relay')])).stdout)
    // the relay only relays: it neither stored nor served any of it
    assert.equal(relayAfter.storage.blocks.bytes, relayBefore.storage.blocks.bytes)
    // a copy added on the public peer (the same bytes under a second root: another chunk size) is fetched directly
    const direct = JSON.parse((await shoalOk(['add', input, '--chunk-size', '524288', '--json', '--repo', repo('public')])).stdout)
    const fromPublic = await get('upnp', direct.cid, path.join(dir, 'big-direct'))
    assert.equal(await sha256File(path.join(dir, 'big-relayed')), await sha256File(input))
    assert.equal(await sha256File(path.join(dir, 'big-direct')), await sha256File(input))
    const rate = (s: number): string => `${(64 / s).toFixed(1)} MiB/s`
    console.log(`      64 MiB: relayed (cone behind cone, via the relay) ${relayed.seconds.toFixed(1)} s = ${rate(relayed.seconds)}; direct (public peer to a NATed one) ${fromPublic.seconds.toFixed(1)} s = ${rate(fromPublic.seconds)}; ratio ${(fromPublic.seconds / relayed.seconds).toFixed(2)}`)
  })

  it('a root added with --replicas 3 behind a NAT gets its copies on peers behind NATs', async () => {
    const input = path.join(dir, 'replicated')
    await fs.writeFile(input, randomBytes(3 * MiB))
    const { cid } = JSON.parse((await shoalOk(['add', input, '--replicas', '3', '--json', '--repo', repo('cone2')])).stdout)
    const status = await until('three complete copies', 120_000, async () => {
      const r = await shoal(['status', cid, '--json', '--repo', repo('cone2')])
      const s = r.code === 0 ? JSON.parse(r.stdout) : undefined
      return s?.health === 'ok' && s.copies === 3 ? s : undefined
    })
    const behindNat = new Set(natted.map(([name]) => daemons.get(name)!.peerId))
    const holders = status.holders.filter((h: any) => h.state === 'complete').map((h: any) => h.peer)
    assert.ok(holders.filter((p: string) => behindNat.has(p)).length >= 2, JSON.stringify(status.holders))
  })
})
