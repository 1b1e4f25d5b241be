import fs from 'node:fs/promises'
import path from 'node:path'
import { LabError, nftIn } from './shell.js'
import type { Namespaces } from './shell.js'
import type { ChildProcess } from 'node:child_process'
import type { Readable } from 'node:stream'

/**
 * Home routers for the host lab. A router is a network namespace with one
 * leg (`wan`) on the lab's bridge, holding a public address, and one (`lan`,
 * a bridge inside the router) for the hosts behind it, 192.168.<router>.0/24.
 * What it does is Linux's own NAT (conntrack and nftables `masquerade`):
 *
 * - `cone`: a port-restricted cone. The mapping is endpoint-independent (a
 *   private ip:port keeps one public port whoever it sends to: masquerade
 *   keeps the port when it is free), and only replies come in: a packet from
 *   the public side is forwarded only if conntrack knows it (established or
 *   related), i.e. only from an ip:port the host has sent to.
 * - `symmetric`: `masquerade fully-random`, a new random public port for
 *   every destination; the same filtering.
 * - `upnp`: a cone that also runs miniupnpd (UPnP IGD and NAT-PMP) on its
 *   LAN side, so a host behind it can open a port to the public side.
 *
 * The router drops whatever comes to itself from the public side unasked
 * (as home routers do). That matters beyond realism: a packet the router
 * answered itself (an ICMP port unreachable) would leave a conntrack entry
 * that makes masquerade pick another port for the host's flow to the same
 * ip:port, and UDP hole punching would fail behind a cone.
 */
export type NatKind = 'cone' | 'symmetric' | 'upnp'

export interface RouterOptions {
  kind: NatKind
}

export interface Router {
  index: number
  kind: NatKind
  /** Network namespace name. */
  ns: string
  /** The router's address on the lab bridge: what the public side sees of every host behind it. */
  publicIp: string
  /** The router's address on its LAN, the default gateway of the hosts behind it. */
  lanIp: string
  /** The first three octets of the LAN's /24. */
  lanSubnet: string
}

/** A STUN server (RFC 3489/5389 binding requests over UDP) on a public host. */
export interface StunServer {
  ip: string
  port: number
}

/** The chains miniupnpd adds its rules to, in the router's table (named in its config). */
const UPNP_CHAINS = { forward: 'miniupnpd', prerouting: 'prerouting_miniupnpd', postrouting: 'postrouting_miniupnpd' }
/** miniupnpd's HTTP port (UPnP IGD control), on the LAN side only. */
const UPNP_HTTP_PORT = 5000
const STUN_PORT = 3478

/** The private address of lab host `index` behind `router`. */
export function lanAddress (router: Router, index: number): string {
  return `${router.lanSubnet}.${10 + index}`
}

/**
 * The router's nftables table: NAT on the way out, only replies (and, for
 * `upnp`, miniupnpd's port mappings) on the way in.
 */
function routerRules (table: string, kind: NatKind): string {
  const upnp = kind === 'upnp'
  const masquerade = kind === 'symmetric' ? 'masquerade fully-random' : 'masquerade'
  return `table inet ${table} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ${upnp ? `jump ${UPNP_CHAINS.prerouting}` : ''}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ${upnp ? `jump ${UPNP_CHAINS.postrouting}` : ''}
    oifname "wan" ${masquerade}
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
    ${upnp ? `jump ${UPNP_CHAINS.forward}` : ''}
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
${upnp ? Object.values(UPNP_CHAINS).map(chain => `  chain ${chain} {\n  }`).join('\n') : ''}
}`
}

/**
 * Make a router of namespace `router.ns`, whose `wan` link is already on the
 * lab bridge: its addresses and routes (the lab's hosts on the bridge are
 * reached directly), forwarding, the LAN bridge and the NAT rules.
 */
export async function configureRouter (ns: Namespaces, router: Router, labSubnet: string, table: string): Promise<void> {
  const exec = async (cmd: string, args: string[]): Promise<string> => await ns.exec(router.ns, cmd, args)
  await exec('ip', ['link', 'set', 'lo', 'up'])
  await exec('ip', ['addr', 'add', `${router.publicIp}/24`, 'dev', 'wan'])
  await exec('ip', ['link', 'set', 'wan', 'up'])
  await exec('ip', ['route', 'add', `${labSubnet}.0/24`, 'dev', 'wan'])
  await exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'])
  await exec('ip', ['link', 'add', 'lan', 'type', 'bridge'])
  // a machine with br_netfilter sends bridged frames through the IP hooks: the LAN's own traffic
  // (host to host behind one router) would meet the forward chain's drop
  await exec('sysctl', ['-q', '-w', 'net.bridge.bridge-nf-call-iptables=0']).catch(() => {})
  await exec('ip', ['addr', 'add', `${router.lanIp}/24`, 'dev', 'lan'])
  await exec('ip', ['link', 'set', 'lan', 'up'])
  await nftIn(router.ns, routerRules(table, router.kind))
}

/**
 * Plug host namespace `hostNs` into the router's LAN: a veth pair, `eth0`
 * in the host, `h<index>` on the router's LAN bridge.
 */
export async function plugIntoLan (ns: Namespaces, router: Router, hostNs: string, index: number): Promise<void> {
  const port = `h${index}`
  await ns.exec(router.ns, 'ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', hostNs])
  await ns.exec(router.ns, 'ip', ['link', 'set', port, 'master', 'lan'])
  await ns.exec(router.ns, 'ip', ['link', 'set', port, 'up'])
}

/** miniupnpd's configuration for `router`: LAN side only, UPnP IGD and NAT-PMP, mappings only to the asking host. */
function miniupnpdConfig (router: Router, dir: string, table: string): string {
  return [
    'ext_ifname=wan',
    'listening_ip=lan',
    `http_port=${UPNP_HTTP_PORT}`,
    'enable_upnp=yes',
    'enable_natpmp=yes',
    'secure_mode=yes',
    'system_uptime=no',
    `lease_file=${path.join(dir, 'leases')}`,
    `uuid=00000000-0000-4000-8000-${String(router.index).padStart(12, '0')}`,
    `upnp_table_name=${table}`,
    `upnp_nat_table_name=${table}`,
    `upnp_forward_chain=${UPNP_CHAINS.forward}`,
    `upnp_nat_chain=${UPNP_CHAINS.prerouting}`,
    `upnp_nat_postrouting_chain=${UPNP_CHAINS.postrouting}`,
    `allow 1024-65535 ${router.lanSubnet}.0/24 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    ''
  ].join('\n')
}

/**
 * Wait until a server the lab started says (on `output`) that it serves;
 * fail with what it said if it exits or stays silent for 10 s.
 */
async function serving (child: ChildProcess, output: Readable, what: string, ready: (log: string) => boolean): Promise<void> {
  let log = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail('did not start within 10 s'), 10_000)
    const onExit = (code: number | null): void => fail(`exited (${String(code)})`)
    const onLog = (d: Buffer): void => {
      log += String(d)
      if (!ready(log)) return
      done()
      resolve()
    }
    function done (): void {
      clearTimeout(timer)
      child.off('exit', onExit)
      output.off('data', onLog)
      // what it says from now on is of no use, but a full pipe would stall it
      output.resume()
    }
    function fail (why: string): void {
      done()
      child.kill('SIGKILL')
      reject(new LabError(`${what} ${why}: ${log.trim()}`))
    }
    child.once('exit', onExit)
    output.on('data', onLog)
  })
}

/**
 * Start miniupnpd in the router, its config and state in `dir`, and wait
 * until it serves (it says it listens for NAT-PMP, the last thing it sets
 * up before its loop).
 */
export async function startMiniupnpd (ns: Namespaces, router: Router, dir: string, table: string): Promise<ChildProcess> {
  await fs.mkdir(dir, { recursive: true })
  const config = path.join(dir, 'miniupnpd.conf')
  await fs.writeFile(config, miniupnpdConfig(router, dir, table))
  // -d: in the foreground, its log on stderr
  const child = ns.spawn(router.ns, 'miniupnpd', ['-d', '-f', config, '-P', path.join(dir, 'miniupnpd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] })
  await serving(child, child.stderr!, `miniupnpd in router ${router.index}`, log => log.includes('Listening for NAT-PMP'))
  return child
}

/**
 * Start stund (Debian's stun-server) in namespace `hostNs` on `ip` and
 * `altIp` (an RFC 3489 server answers "change address" requests from a
 * second address), and wait until its four sockets are open.
 */
export async function startStund (ns: Namespaces, hostNs: string, ip: string, altIp: string): Promise<StunServer> {
  // -v: it says on stderr which sockets it opened
  const child = ns.spawn(hostNs, 'stund', ['-v', '-h', ip, '-a', altIp, '-p', String(STUN_PORT), '-o', String(STUN_PORT + 1)], { stdio: ['ignore', 'ignore', 'pipe'] })
  await serving(child, child.stderr!, `stund on ${ip}`, log => log.split('Opened port').length - 1 === 4)
  return { ip, port: STUN_PORT }
}
