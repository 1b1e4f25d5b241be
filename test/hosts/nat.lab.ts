import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createInterface } from 'node:readline'
import fs from 'node:fs/promises'
import os from 'node:os'
import { promisify } from 'node:util'
import { HostLab } from '../../src/lab/host-lab.js'
import type { ChildProcess } from 'node:child_process'
import type { Router, StunServer } from '../../src/lab/host-lab.js'

const execFileAsync = promisify(execFile)

/*
 * Small programs run with `node -e` inside the lab's hosts. Each prints JSON
 * lines; a server prints `ready` once it listens.
 */

/** A UDP server that answers every datagram with the address and port it came from, and logs it. */
const UDP_ECHO = `
const s = require('node:dgram').createSocket('udp4')
s.on('message', (m, r) => {
  console.log(JSON.stringify({ address: r.address, port: r.port, text: String(m) }))
  s.send(JSON.stringify({ address: r.address, port: r.port }), r.port, r.address)
})
s.bind(Number(process.argv[1]), () => console.log('ready'))`

/** A TCP server that tells every connection where it came from, and logs it. */
const TCP_ECHO = `
const server = require('node:net').createServer(c => {
  console.log(JSON.stringify({ address: c.remoteAddress, port: c.remotePort }))
  c.end(JSON.stringify({ address: c.remoteAddress, port: c.remotePort }))
})
server.listen(Number(process.argv[1]), '0.0.0.0', () => console.log('ready'))`

/** From one UDP socket, ask each ip:port given; print the answers by sender, when all came or the time is up. */
const UDP_ASK = `
const [ms, ...targets] = process.argv.slice(1)
const s = require('node:dgram').createSocket('udp4')
const answers = {}
const done = () => { console.log(JSON.stringify({ port: s.address().port, answers })); process.exit(0) }
s.on('message', (m, r) => {
  answers[r.address + ':' + r.port] = JSON.parse(String(m))
  if (Object.keys(answers).length === targets.length) done()
})
s.bind(0, () => { for (const t of targets) s.send('ask', Number(t.split(':')[1]), t.split(':')[0]) })
setTimeout(done, Number(ms))`

/** Connect over TCP, print the answer, or the error (a timeout: nothing came back). */
const TCP_ASK = `
const [ip, port, ms] = process.argv.slice(1)
const c = require('node:net').connect({ host: ip, port: Number(port), timeout: Number(ms) })
let data = ''
const print = o => { console.log(JSON.stringify(o)); process.exit(0) }
c.on('data', d => { data += d })
c.on('end', () => print({ answer: JSON.parse(data) }))
c.on('timeout', () => print({ error: 'timeout' }))
c.on('error', e => print({ error: e.code }))`

/** A rendezvous: once two names said hello, tell each the public ip:port the other said it from. */
const RENDEZVOUS = `
const s = require('node:dgram').createSocket('udp4')
const seen = new Map()
s.on('message', (m, r) => {
  seen.set(String(m), { address: r.address, port: r.port })
  if (seen.size < 2) return
  for (const [name, at] of seen) s.send(JSON.stringify([...seen].find(([n]) => n !== name)[1]), at.port, at.address)
})
s.bind(Number(process.argv[1]), () => console.log('ready'))`

/**
 * UDP hole punching: say hello to the rendezvous (again every 200 ms until
 * it answers), then send to the peer's public ip:port every 100 ms; the first
 * datagram from the peer is answered once and is a success. Prints whether
 * it got through within the deadline.
 */
const PUNCH = `
const [name, rip, rport, ms] = process.argv.slice(1)
const s = require('node:dgram').createSocket('udp4')
const start = Date.now()
let peer
const hello = setInterval(() => s.send(name, Number(rport), rip), 200)
s.on('message', (m, r) => {
  if (r.address === rip && r.port === Number(rport)) {
    if (peer != null) return
    peer = JSON.parse(String(m))
    clearInterval(hello)
    const punch = () => s.send('punch from ' + name, peer.port, peer.address)
    punch()
    setInterval(punch, 100)
    return
  }
  s.send('answer from ' + name, r.port, r.address, () => {
    console.log(JSON.stringify({ ok: true, peer, from: { address: r.address, port: r.port }, text: String(m), ms: Date.now() - start }))
    process.exit(0)
  })
})
s.bind(0, () => s.send(name, Number(rport), rip))
setTimeout(() => { console.log(JSON.stringify({ ok: false, peer, ms: Date.now() - start })); process.exit(0) }, Number(ms))`

/** A STUN binding request (RFC 5389); prints the MAPPED-ADDRESS of the answer. */
const STUN_BINDING = `
const [ip, port] = process.argv.slice(1)
const s = require('node:dgram').createSocket('udp4')
const request = Buffer.alloc(20)
request.writeUInt16BE(0x0001, 0)
request.writeUInt32BE(0x2112a442, 4)
require('node:crypto').randomFillSync(request, 8, 12)
const print = o => { console.log(JSON.stringify(o)); process.exit(0) }
s.on('message', m => {
  if (m.readUInt16BE(0) !== 0x0101 || !m.subarray(8, 20).equals(request.subarray(8, 20))) print({ error: 'not our binding response' })
  for (let at = 20; at + 4 <= m.length;) {
    const type = m.readUInt16BE(at)
    const length = m.readUInt16BE(at + 2)
    if (type === 0x0001) print({ address: [...m.subarray(at + 8, at + 12)].join('.'), port: m.readUInt16BE(at + 6), local: s.address().port })
    at += 4 + length + (4 - length % 4) % 4
  }
  print({ error: 'no MAPPED-ADDRESS' })
})
s.bind(0, () => s.send(request, Number(port), ip))
setTimeout(() => print({ error: 'timeout' }), 3000)`

/** NAT-PMP (RFC 6886): ask the gateway its public address, then map a UDP port; print both answers. */
const NAT_PMP_MAP_UDP = `
const [gateway, internal, external] = process.argv.slice(1)
const s = require('node:dgram').createSocket('udp4')
const print = o => { console.log(JSON.stringify(o)); process.exit(0) }
let address
s.on('message', m => {
  if (m[1] === 128) {
    address = { result: m.readUInt16BE(2), ip: [...m.subarray(8, 12)].join('.') }
    const map = Buffer.alloc(12)
    map[1] = 1
    map.writeUInt16BE(Number(internal), 4)
    map.writeUInt16BE(Number(external), 6)
    map.writeUInt32BE(3600, 8)
    s.send(map, 5351, gateway)
  } else if (m[1] === 129) {
    print({ address, map: { result: m.readUInt16BE(2), internal: m.readUInt16BE(8), external: m.readUInt16BE(10), lifetime: m.readUInt32BE(12) } })
  }
})
s.bind(0, () => s.send(Buffer.from([0, 0]), 5351, gateway))
setTimeout(() => print({ error: 'timeout', address }), 3000)`

/** A run that builds a lab with a router running miniupnpd and a STUN server, says its id and is killed. */
const KILLED_RUN = `
const { HostLab } = await import(process.argv[1])
const lab = await HostLab.create({ hosts: 1 })
await lab.addHost({ behind: await lab.addRouter({ kind: 'upnp' }) })
await lab.startStun(1)
console.log(process.pid.toString(36))
process.kill(process.pid, 'SIGKILL')`

/** Whether a process runs (a zombie does not). */
async function running (pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  return stat != null && stat.split(') ')[1]?.[0] !== 'Z'
}

/** The lab's namespaces, links and files of one run, and the processes in its namespaces. */
async function leftovers (id: string): Promise<{ namespaces: string[], links: string[], files: string[], pids: number[] }> {
  const prefix = `shoal${id}-`
  const namespaces = (await execFileAsync('ip', ['netns', 'list'])).stdout.split('\n').map(l => l.split(' ')[0]).filter(n => n.startsWith(prefix))
  const links = (await execFileAsync('ip', ['-o', 'link', 'show'])).stdout.split('\n').map(l => l.split(': ')[1]?.split('@')[0]).filter(l => l?.startsWith(prefix))
  const files = (await fs.readdir(os.tmpdir())).filter(f => f.startsWith(prefix))
  const pids: number[] = []
  for (const ns of namespaces) pids.push(...(await execFileAsync('ip', ['netns', 'pids', ns])).stdout.split('\n').filter(p => p !== '').map(Number))
  return { namespaces, links, files, pids }
}

interface Running {
  child: ChildProcess
  /** The JSON lines it printed so far. */
  lines: any[]
}

/**
 * The lab's NAT routers behave like the home routers they stand for, shown
 * with real packets: what the public side sees, endpoint-(in)dependent
 * mapping, filtering of what was not asked for, UDP hole punching, UPnP
 * and NAT-PMP port mappings and STUN. Run with `npm run test:hosts` (root
 * needed; Debian packages miniupnpd-nftables, miniupnpc, stun-server and
 * stun-client).
 */
describe('hosts: NAT routers in the host lab', function () {
  this.timeout(120_000)
  let lab: HostLab
  let cone1: Router
  let cone2: Router
  let symmetric1: Router
  let symmetric2: Router
  let upnp: Router
  let stun: StunServer
  // public hosts 1 and 2; behind cone1: 3, cone2: 4, symmetric1: 5, symmetric2: 6, upnp: 7
  const PUBLIC_1 = 1
  const PUBLIC_2 = 2
  const BEHIND_CONE_1 = 3
  const BEHIND_CONE_2 = 4
  const BEHIND_SYMMETRIC_1 = 5
  const BEHIND_SYMMETRIC_2 = 6
  const BEHIND_UPNP = 7
  let nextPort = 7000

  /** Run one of the programs above in a host and return what it printed (one JSON line). */
  async function node (index: number, script: string, args: Array<string | number>): Promise<any> {
    return JSON.parse(await lab.exec(index, process.execPath, ['-e', script, ...args.map(String)]))
  }

  /** Start a server program in a host and wait until it listens. */
  async function serve (index: number, script: string, port: number): Promise<Running> {
    const child = lab.spawn(index, process.execPath, ['-e', script, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const running: Running = { child, lines: [] }
    const lines = createInterface({ input: child.stdout! })
    await new Promise<void>((resolve, reject) => {
      child.once('exit', code => reject(new Error(`server in host ${index} exited (${String(code)}) before it listened`)))
      lines.on('line', line => {
        if (line === 'ready') resolve()
        else running.lines.push(JSON.parse(line))
      })
    })
    return running
  }

  async function stop (running: Running): Promise<void> {
    if (running.child.exitCode != null) return
    const exited = new Promise(resolve => running.child.once('exit', resolve))
    running.child.kill('SIGKILL')
    await exited
  }

  /** `stun` (Debian's stun-client): its RFC 3489 classification of the NAT in front of a host. */
  async function classify (index: number): Promise<string> {
    // its exit code is the NAT type: never 0
    const out = await execFileAsync('ip', ['netns', 'exec', lab.host(index).ns, 'stun', stun.ip]).catch(err => err)
    return String(out.stdout).split('\n').find(l => l.startsWith('Primary:'))?.trim() ?? String(out.stdout)
  }

  before(async () => {
    const started = Date.now()
    lab = await HostLab.create({ hosts: 2 })
    cone1 = await lab.addRouter({ kind: 'cone' })
    cone2 = await lab.addRouter({ kind: 'cone' })
    symmetric1 = await lab.addRouter({ kind: 'symmetric' })
    symmetric2 = await lab.addRouter({ kind: 'symmetric' })
    upnp = await lab.addRouter({ kind: 'upnp' })
    for (const router of [cone1, cone2, symmetric1, symmetric2, upnp]) await lab.addHost({ behind: router })
    stun = await lab.startStun(PUBLIC_1)
    console.log(`      lab of 7 hosts behind 5 routers (one running miniupnpd) and a STUN server set up in ${Date.now() - started} ms`)
  })

  after(async () => {
    await lab?.destroy()
  })

  it('a host behind a cone reaches public hosts over TCP and UDP, seen from its router\'s public address', async () => {
    const host = lab.host(BEHIND_CONE_1)
    assert.equal(host.ip, `${cone1.lanSubnet}.${10 + BEHIND_CONE_1}`)
    assert.equal(host.publicIp, cone1.publicIp)
    assert.notEqual(host.publicIp, host.ip)
    const port = nextPort++
    const tcp = await serve(PUBLIC_1, TCP_ECHO, port)
    const udp = await serve(PUBLIC_1, UDP_ECHO, port)
    const byTcp = await node(BEHIND_CONE_1, TCP_ASK, [lab.host(PUBLIC_1).ip, port, 3000])
    assert.equal(byTcp.answer?.address, cone1.publicIp, JSON.stringify(byTcp))
    const byUdp = await node(BEHIND_CONE_1, UDP_ASK, [3000, `${lab.host(PUBLIC_1).ip}:${port}`])
    assert.equal(byUdp.answers[`${lab.host(PUBLIC_1).ip}:${port}`]?.address, cone1.publicIp, JSON.stringify(byUdp))
    assert.deepEqual(tcp.lines.map(l => l.address), [cone1.publicIp])
    assert.deepEqual(udp.lines.map(l => l.address), [cone1.publicIp])
    await stop(tcp)
    await stop(udp)
  })

  it('what the public side sends unasked to a cone router\'s public address does not reach the host behind it', async () => {
    const port = nextPort++
    const tcp = await serve(BEHIND_CONE_1, TCP_ECHO, port)
    const udp = await serve(BEHIND_CONE_1, UDP_ECHO, port)
    // the servers are there: the host itself reaches them
    assert.ok((await node(BEHIND_CONE_1, TCP_ASK, [lab.host(BEHIND_CONE_1).ip, port, 3000])).answer != null)
    tcp.lines.length = 0
    // the router drops it: no answer, not even a refusal, within 1.5 s
    const byTcp = await node(PUBLIC_1, TCP_ASK, [cone1.publicIp, port, 1500])
    assert.deepEqual(byTcp, { error: 'timeout' })
    // an echo server answers every datagram it gets: none within 1.5 s
    const byUdp = await node(PUBLIC_1, UDP_ASK, [1500, `${cone1.publicIp}:${port}`])
    assert.deepEqual(byUdp.answers, {})
    assert.deepEqual(tcp.lines, [])
    assert.deepEqual(udp.lines, [])
    await stop(tcp)
    await stop(udp)
  })

  it('mapping: one UDP socket behind a cone keeps one public port for two destinations; behind a symmetric NAT it gets one per destination', async () => {
    const port = nextPort++
    const echoes = [await serve(PUBLIC_1, UDP_ECHO, port), await serve(PUBLIC_2, UDP_ECHO, port)]
    const targets = [PUBLIC_1, PUBLIC_2].map(i => `${lab.host(i).ip}:${port}`)
    const seen = async (index: number): Promise<{ port: number, seen: Array<{ address: string, port: number }> }> => {
      const asked = await node(index, UDP_ASK, [3000, ...targets])
      assert.equal(Object.keys(asked.answers).length, 2, JSON.stringify(asked))
      return { port: asked.port, seen: targets.map(t => asked.answers[t]) }
    }
    const cone = await seen(BEHIND_CONE_1)
    assert.deepEqual(cone.seen.map(s => s.address), [cone1.publicIp, cone1.publicIp])
    assert.equal(cone.seen[0].port, cone.seen[1].port, `endpoint-independent mapping: ${JSON.stringify(cone)}`)
    const symmetric = await seen(BEHIND_SYMMETRIC_1)
    assert.deepEqual(symmetric.seen.map(s => s.address), [symmetric1.publicIp, symmetric1.publicIp])
    assert.notEqual(symmetric.seen[0].port, symmetric.seen[1].port, `endpoint-dependent mapping: ${JSON.stringify(symmetric)}`)
    console.log(`      cone: local port ${cone.port} seen as ${cone.seen.map(s => s.port).join(' and ')}; symmetric: local port ${symmetric.port} seen as ${symmetric.seen.map(s => s.port).join(' and ')}`)
    for (const echo of echoes) await stop(echo)
  })

  it('UDP hole punching through two cones succeeds, through two symmetric NATs fails', async () => {
    const punch = async (a: number, b: number, deadlineMs: number): Promise<any[]> => {
      const port = nextPort++
      const rendezvous = await serve(PUBLIC_2, RENDEZVOUS, port)
      const ip = lab.host(PUBLIC_2).ip
      const results = await Promise.all([node(a, PUNCH, ['a', ip, port, deadlineMs]), node(b, PUNCH, ['b', ip, port, deadlineMs])])
      await stop(rendezvous)
      return results
    }
    const cones = await punch(BEHIND_CONE_1, BEHIND_CONE_2, 5000)
    for (const [i, r] of cones.entries()) {
      assert.equal(r.ok, true, `cone × cone, side ${i}: ${JSON.stringify(cones)}`)
      // the datagram came from the very ip:port the rendezvous named
      assert.deepEqual(r.from, r.peer)
    }
    assert.deepEqual(cones.map(r => r.from.address), [cone2.publicIp, cone1.publicIp])
    const symmetric = await punch(BEHIND_SYMMETRIC_1, BEHIND_SYMMETRIC_2, 3000)
    for (const [i, r] of symmetric.entries()) {
      // each learnt the other's public address (the rendezvous worked), but nothing got through
      assert.equal(r.peer?.address, [symmetric2, symmetric1][i].publicIp, JSON.stringify(symmetric))
      assert.equal(r.ok, false, `symmetric × symmetric, side ${i}: ${JSON.stringify(symmetric)}`)
    }
    console.log(`      cone × cone punched through in ${Math.max(...cones.map(r => r.ms))} ms; symmetric × symmetric: nothing in ${Math.max(...symmetric.map(r => r.ms))} ms`)
  })

  it('UPnP IGD: a host behind the upnp router maps a TCP port with upnpc, and a public host reaches it there', async () => {
    const port = nextPort++
    const server = await serve(BEHIND_UPNP, TCP_ECHO, port)
    // before the mapping the port is closed like any cone's
    assert.deepEqual(await node(PUBLIC_1, TCP_ASK, [upnp.publicIp, port, 1500]), { error: 'timeout' })
    const mapped = await lab.exec(BEHIND_UPNP, 'upnpc', ['-e', 'shoal lab', '-r', String(port), 'TCP'])
    assert.match(mapped, new RegExp(`external ${upnp.publicIp.replaceAll('.', '\\.')}:${port} TCP is redirected to internal ${lab.host(BEHIND_UPNP).ip}:${port}`), mapped)
    const reached = await node(PUBLIC_1, TCP_ASK, [upnp.publicIp, port, 3000])
    // a port mapping keeps the source: the host sees who connected
    assert.equal(reached.answer?.address, lab.host(PUBLIC_1).ip, JSON.stringify(reached))
    assert.deepEqual(server.lines.map(l => l.address), [lab.host(PUBLIC_1).ip])
    // the other routers know nothing of it
    assert.deepEqual(await node(PUBLIC_1, TCP_ASK, [cone1.publicIp, port, 1000]), { error: 'timeout' })
    await stop(server)
  })

  it('NAT-PMP: a host behind the upnp router learns the public address and maps a UDP port, and a public host reaches it there', async () => {
    const port = nextPort++
    const echo = await serve(BEHIND_UPNP, UDP_ECHO, port)
    assert.deepEqual((await node(PUBLIC_1, UDP_ASK, [1000, `${upnp.publicIp}:${port}`])).answers, {})
    const pmp = await node(BEHIND_UPNP, NAT_PMP_MAP_UDP, [upnp.lanIp, port, port])
    assert.deepEqual(pmp.address, { result: 0, ip: upnp.publicIp }, JSON.stringify(pmp))
    assert.equal(pmp.map?.result, 0, JSON.stringify(pmp))
    assert.equal(pmp.map.internal, port)
    const asked = await node(PUBLIC_1, UDP_ASK, [3000, `${upnp.publicIp}:${pmp.map.external}`])
    assert.equal(asked.answers[`${upnp.publicIp}:${pmp.map.external}`]?.address, lab.host(PUBLIC_1).ip, JSON.stringify({ pmp, asked }))
    await stop(echo)
  })

  it('STUN: a host behind a cone learns its public address; stun classifies the cone and the symmetric NAT as such', async () => {
    const learnt = await node(BEHIND_CONE_1, STUN_BINDING, [stun.ip, stun.port])
    assert.equal(learnt.address, cone1.publicIp, JSON.stringify(learnt))
    // Linux keeps the port when it is free
    assert.equal(learnt.port, learnt.local)
    const behindSymmetric = await node(BEHIND_SYMMETRIC_1, STUN_BINDING, [stun.ip, stun.port])
    assert.equal(behindSymmetric.address, symmetric1.publicIp, JSON.stringify(behindSymmetric))
    // RFC 3489's tests, with the server's second address and port: mapping and filtering
    assert.equal(await classify(BEHIND_CONE_1), 'Primary: Independent Mapping, Port Dependent Filter, preserves ports, no hairpin')
    assert.match(await classify(BEHIND_SYMMETRIC_1), /^Primary: Dependent Mapping, random port/)
    assert.match(await classify(BEHIND_UPNP), /^Primary: Independent Mapping, Port Dependent Filter/)
    assert.match(await classify(PUBLIC_2), /^Primary: Open/)
  })

  it('a host that changes address keeps its way out: behind a router, and on the bridge', async () => {
    const port = nextPort++
    const echo = await serve(PUBLIC_1, TCP_ECHO, port)
    const ip = await lab.changeAddress(BEHIND_CONE_2, 99)
    assert.equal(ip, `${cone2.lanSubnet}.99`)
    assert.equal(lab.host(BEHIND_CONE_2).publicIp, cone2.publicIp)
    assert.equal((await node(BEHIND_CONE_2, TCP_ASK, [lab.host(PUBLIC_1).ip, port, 3000])).answer?.address, cone2.publicIp)
    const server = await serve(PUBLIC_2, TCP_ECHO, port)
    const publicIp = await lab.changeAddress(PUBLIC_2, 99)
    assert.equal(lab.host(PUBLIC_2).publicIp, publicIp)
    // a router reaches it at its new address (the routers' /24 is routed again from it)
    assert.equal((await node(BEHIND_CONE_2, TCP_ASK, [publicIp, port, 3000])).answer?.address, cone2.publicIp)
    await stop(echo)
    await stop(server)
  })

  it('sweep removes what a killed run left (its namespaces, links, files, miniupnpd and stund), not what a running lab has', async () => {
    const killed = await execFileAsync(process.execPath, ['--input-type=module', '-e', KILLED_RUN, new URL('../../src/lab/host-lab.js', import.meta.url).href]).catch(err => err)
    assert.equal(killed.signal, 'SIGKILL', String(killed.stderr))
    const id = String(killed.stdout).trim()
    const left = await leftovers(id)
    assert.equal(left.namespaces.length, 3, JSON.stringify(left))
    assert.ok(left.links.length >= 3, JSON.stringify(left))
    assert.deepEqual(left.files, [`shoal${id}-lab`])
    assert.equal(left.pids.length, 2, `miniupnpd and stund: ${JSON.stringify(left)}`)
    await HostLab.sweep()
    const after = await leftovers(id)
    assert.deepEqual(after, { namespaces: [], links: [], files: [], pids: [] })
    for (const pid of left.pids) assert.equal(await running(pid), false, `process ${pid} still runs`)
    // this run's lab is untouched
    assert.equal((await leftovers(process.pid.toString(36))).namespaces.length, 7 + 5)
  })

  it('destroy leaves no namespace, link, process or file of the lab behind', async () => {
    const id = process.pid.toString(36)
    const before = await leftovers(id)
    assert.equal(before.namespaces.length, 7 + 5)
    // at least miniupnpd and stund run
    assert.ok(before.pids.length >= 2, `processes in the lab: ${before.pids.join(', ')}`)
    await lab.destroy()
    assert.deepEqual(await leftovers(id), { namespaces: [], links: [], files: [], pids: [] })
    for (const pid of before.pids) assert.equal(await running(pid), false, `process ${pid} still runs`)
  })
})
