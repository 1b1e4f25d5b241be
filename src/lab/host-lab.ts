import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { configureRouter, lanAddress, plugIntoLan, startMiniupnpd, startStund } from './nat.js'
import { LabError, nftIn, run, sh } from './shell.js'
import type { Router, RouterOptions, StunServer } from './nat.js'
import type { Namespaces } from './shell.js'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

export type { NatKind, Router, RouterOptions, StunServer } from './nat.js'

/**
 * Every name the lab creates is `shoal<pid in base 36>-<what>` (at most 15
 * characters, the kernel's limit for a link name), so the leftovers of a run
 * that was killed can be told from those of a lab still running.
 */
const PREFIX = 'shoal'
/** The nftables table in each host. */
const TABLE = 'shoallab'

/** The process that made a lab object named `name`, if the name is one of ours. */
function ownerOf (name: string): number | undefined {
  const m = /^shoal([0-9a-z]{1,6})-/.exec(name)
  return m == null ? undefined : parseInt(m[1], 36)
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}

export interface HostProfile {
  /** Egress bandwidth limit (tc tbf), e.g. '20mbit'. */
  rate?: string
  /** Share of incoming packets dropped at random (nftables), in percent. */
  loss?: number
}

export interface HostOptions extends HostProfile {
  /** Put the host on this router's LAN, behind its NAT, rather than on the lab bridge. */
  behind?: Router
}

export interface LabOptions {
  hosts: number
  /** The first three octets of the lab's /24, e.g. '10.231.7'. */
  subnet?: string
  /**
   * The first three octets of the /24 the routers' public addresses are
   * taken from, on the same bridge (the lab's hosts have a route to it).
   * Not a private or reserved range: miniupnpd maps no port on a router
   * whose public address is one. Nothing leaves the machine: the lab's
   * namespaces have no way out.
   */
  routerSubnet?: string
  profiles?: Record<number, HostProfile>
}

export interface Host {
  index: number
  /** Network namespace name. */
  ns: string
  /** The host's own address: on the lab bridge, or on its router's LAN. */
  ip: string
  /** The address others see it from: its own, or its router's public address. */
  publicIp: string
  /** The router it is behind, if any. */
  router?: Router
}

/**
 * Kill what still runs in a namespace (a daemon's own children; a router's
 * miniupnpd or a STUN server left by a run that was killed: they would keep
 * the namespace and its links alive), then delete it.
 */
async function removeNamespace (ns: string): Promise<void> {
  await run('ip', ['netns', 'pids', ns]).then(({ stdout }) => {
    for (const pid of stdout.split('\n').filter(p => p !== '')) {
      try { process.kill(Number(pid), 'SIGKILL') } catch {}
    }
  }).catch(() => {})
  await run('ip', ['netns', 'del', ns]).catch(() => {})
}

/** The names of the links in the machine's first network namespace. */
async function links (): Promise<string[]> {
  return (await sh('ip', ['-o', 'link', 'show'])).split('\n').map(l => l.split(': ')[1]?.split('@')[0]).filter(l => l != null)
}

/** Fail with one line when the lab cannot run here, rather than pass without testing. */
async function checkLabPrerequisites (): Promise<void> {
  if (process.getuid?.() !== 0) throw new LabError('the host lab needs root (network namespaces, veth, tc, nftables)')
  for (const tool of ['ip', 'tc', 'nft']) {
    await run(tool, ['-V']).catch(async () => await run(tool, ['--version'])).catch(() => {
      throw new LabError(`the host lab needs \`${tool}\` (Debian packages iproute2 and nftables)`)
    })
  }
}

const NEIGHBOUR_LIMITS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'].map(name => `/proc/sys/net/ipv4/neigh/default/${name}`)

/**
 * Make the kernel's ARP table big enough for `hosts` hosts that all talk to
 * each other. The table is one for every network namespace on the machine,
 * and its default hard limit (gc_thresh3) is 1 024 entries: hosts × (hosts
 * − 1) of them fill it at 33 hosts, and from then on a new host cannot
 * resolve anyone's address ("neighbor table overflow" in the kernel's log;
 * measured: in a lab of 100, the 65 hosts added last could not reach the
 * first). The limits are machine-wide; they are only ever raised.
 */
async function roomForNeighbours (hosts: number): Promise<void> {
  const needed = hosts * hosts
  const wanted = [needed, 2 * needed, 4 * needed]
  for (const [i, file] of NEIGHBOUR_LIMITS.entries()) {
    // only the machine's first network namespace has these (a lab inside a container may not reach
    // them): then the lab works as before, up to ~33 hosts
    const now = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim())
    if (Number.isFinite(now) && now > 0 && now < wanted[i]) await fs.writeFile(file, String(wanted[i])).catch(() => {})
  }
}

/**
 * Test hosts on one machine: H network namespaces, each joined by a veth
 * pair to one bridge and given its own address in a private /24, with an
 * optional egress bandwidth limit (tc tbf) and random packet loss
 * (nftables). Hosts can be cut off (partition: every packet dropped, the
 * daemon left running) and healed, and can change address. Hosts can also
 * sit behind home routers (NAT: cone, symmetric, or a cone with UPnP and
 * NAT-PMP; see nat.ts), and a public host can serve STUN. There is no
 * delay: the kernel here has no netem. Everything is removed by `destroy`,
 * which also runs on SIGINT/SIGTERM and at exit; `sweep` removes what a
 * killed run left behind.
 */
export class HostLab {
  readonly hosts: Host[] = []
  readonly routers: Router[] = []
  readonly bridge: string
  private readonly id: string
  private readonly subnet: string
  private readonly routerSubnet: string
  private readonly children = new Set<ChildProcess>()
  private destroyed = false
  private added = 0
  private stunServers = 0
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    void this.destroy().finally(() => process.kill(process.pid, signal))
  }

  /** What the routers do inside namespaces, through the lab (so that what they start is killed with it). */
  private readonly namespaces: Namespaces = {
    exec: async (ns, cmd, args) => await sh('ip', ['netns', 'exec', ns, cmd, ...args]),
    spawn: (ns, cmd, args, options = {}) => {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], options)
      this.children.add(child)
      child.once('exit', () => this.children.delete(child))
      return child
    }
  }

  private constructor (id: string, subnet: string, routerSubnet: string) {
    this.id = id
    this.subnet = subnet
    this.routerSubnet = routerSubnet
    this.bridge = `${PREFIX}${id}-br`
  }

  static async create (options: LabOptions): Promise<HostLab> {
    await checkLabPrerequisites()
    await HostLab.sweep()
    const id = process.pid.toString(36)
    const lab = new HostLab(id, options.subnet ?? `10.231.${process.pid % 250}`, options.routerSubnet ?? `11.231.${process.pid % 250}`)
    process.once('SIGINT', lab.onSignal)
    process.once('SIGTERM', lab.onSignal)
    process.once('exit', lab.destroySync)
    try {
      await sh('ip', ['link', 'add', lab.bridge, 'type', 'bridge'])
      await sh('ip', ['link', 'set', lab.bridge, 'up'])
      for (let i = 1; i <= options.hosts; i++) {
        await lab.addHost(options.profiles?.[i] ?? {})
      }
    } catch (err) {
      await lab.destroy()
      throw err
    }
    return lab
  }

  /** Remove namespaces and links left by earlier runs that were killed (never those of a lab still running). */
  static async sweep (): Promise<void> {
    const stale = (name: string | undefined): boolean => {
      const owner = name == null ? undefined : ownerOf(name)
      return owner != null && !isAlive(owner)
    }
    const namespaces = (await sh('ip', ['netns', 'list'])).split('\n').map(l => l.split(' ')[0]).filter(stale)
    for (const ns of namespaces) await removeNamespace(ns)
    for (const link of (await links()).filter(stale)) await run('ip', ['link', 'del', link]).catch(() => {})
    const files = (await fs.readdir(os.tmpdir()).catch(() => [])).filter(stale)
    for (const file of files) await fs.rm(path.join(os.tmpdir(), file), { recursive: true, force: true })
  }

  /** Where the lab keeps files (the routers' miniupnpd config and state); removed by `destroy`. */
  private get dir (): string {
    return path.join(os.tmpdir(), `${PREFIX}${this.id}-lab`)
  }

  host (index: number): Host {
    const h = this.hosts[index - 1]
    if (h == null) throw new LabError(`no host ${index}`)
    return h
  }

  /**
   * Add a host (the next index); returns it. On the lab bridge with its own
   * address, or, with `behind`, on that router's LAN with a private one.
   */
  async addHost (options: HostOptions = {}): Promise<Host> {
    // taken at once: hosts may be added concurrently
    const index = ++this.added
    if (index > 200) throw new LabError('the lab has room for 200 hosts')
    const { behind: router, ...profile } = options
    const ns = `${PREFIX}${this.id}-h${index}`
    const ip = router == null ? `${this.subnet}.${10 + index}` : lanAddress(router, index)
    await roomForNeighbours(index + this.routers.length)
    await sh('ip', ['netns', 'add', ns])
    this.hosts[index - 1] = router == null ? { index, ns, ip, publicIp: ip } : { index, ns, ip, publicIp: router.publicIp, router }
    if (router == null) await this.plugIntoBridge(ns, `${PREFIX}${this.id}-v${index}`)
    else await plugIntoLan(this.namespaces, router, ns, index)
    await this.exec(index, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0'])
    await this.exec(index, 'ip', ['link', 'set', 'eth0', 'up'])
    await this.exec(index, 'ip', ['link', 'set', 'lo', 'up'])
    await this.addRoutes(this.host(index))
    // one table per host: a loss chain and a partition chain, both on input and output
    await this.nft(index, `add table inet ${TABLE}
add chain inet ${TABLE} input { type filter hook input priority 0; policy accept; }
add chain inet ${TABLE} output { type filter hook output priority 0; policy accept; }`)
    if (profile.rate != null) await this.setRate(index, profile.rate)
    if (profile.loss != null) await this.setLoss(index, profile.loss)
    return this.host(index)
  }

  /** Join namespace `ns` to the lab bridge: a veth pair, `eth0` inside, `outside` on the bridge. */
  private async plugIntoBridge (ns: string, outside: string, inside = 'eth0'): Promise<void> {
    await sh('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside, 'netns', ns])
    await sh('ip', ['link', 'set', outside, 'master', this.bridge])
    await sh('ip', ['link', 'set', outside, 'up'])
  }

  /** A host behind a router goes everywhere through it; a public host reaches the routers directly on the bridge. */
  private async addRoutes (host: Host): Promise<void> {
    if (host.router != null) await this.exec(host.index, 'ip', ['route', 'replace', 'default', 'via', host.router.lanIp])
    else await this.exec(host.index, 'ip', ['route', 'replace', `${this.routerSubnet}.0/24`, 'dev', 'eth0'])
  }

  /**
   * Add a home router (the next router index) with a public address on the
   * lab bridge and a LAN of its own; hosts join it with `addHost({ behind })`.
   */
  async addRouter (options: RouterOptions): Promise<Router> {
    const index = this.routers.length + 1
    if (index > 250) throw new LabError('the lab has room for 250 routers')
    const router: Router = {
      index,
      kind: options.kind,
      ns: `${PREFIX}${this.id}-r${index}`,
      publicIp: `${this.routerSubnet}.${index}`,
      lanIp: `192.168.${index}.1`,
      lanSubnet: `192.168.${index}`
    }
    this.routers[index - 1] = router
    await roomForNeighbours(this.added + index)
    await sh('ip', ['netns', 'add', router.ns])
    await this.plugIntoBridge(router.ns, `${PREFIX}${this.id}-w${index}`, 'wan')
    await configureRouter(this.namespaces, router, this.subnet, TABLE)
    if (router.kind === 'upnp') await startMiniupnpd(this.namespaces, router, path.join(this.dir, `r${index}`), TABLE)
    return router
  }

  /**
   * Start a STUN server on public host `index` (stund, Debian's stun-server),
   * with a second address of its own for "change address" requests.
   */
  async startStun (index: number): Promise<StunServer> {
    const host = this.host(index)
    if (host.router != null) throw new LabError(`host ${index} is behind a router: a STUN server must be public`)
    if (this.stunServers >= 40) throw new LabError('the lab has room for 40 STUN servers')
    // the hosts' own addresses end in 11…210
    const altIp = `${this.subnet}.${211 + this.stunServers++}`
    await this.exec(index, 'ip', ['addr', 'add', `${altIp}/24`, 'dev', 'eth0'])
    return await startStund(this.namespaces, host.ns, host.ip, altIp)
  }

  /** Run a command inside a host and wait for it. */
  async exec (index: number, cmd: string, args: string[]): Promise<string> {
    return await this.namespaces.exec(this.host(index).ns, cmd, args)
  }

  /** Start a long-running process inside a host; it is killed by `destroy`. */
  spawn (index: number, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return this.namespaces.spawn(this.host(index).ns, cmd, args, options)
  }

  /** Apply an nftables script inside a host (`nft -f -`, the script on stdin). */
  private async nft (index: number, script: string): Promise<void> {
    await nftIn(this.host(index).ns, script)
  }

  /** Limit what a host sends to `rate` (e.g. '20mbit'); undefined lifts the limit. */
  async setRate (index: number, rate?: string): Promise<void> {
    if (rate == null) {
      await this.exec(index, 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => {})
      return
    }
    await this.exec(index, 'tc', ['qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '200ms'])
  }

  /** Drop `percent` of the packets a host receives, at random (0: none). */
  async setLoss (index: number, percent: number): Promise<void> {
    await this.deleteRules(index, 'loss')
    if (percent > 0) {
      await this.nft(index, `add rule inet ${TABLE} input iifname "eth0" numgen random mod 100 < ${percent} drop comment "loss"`)
    }
  }

  /** Cut a host off: every packet in or out on its link is dropped; its processes keep running. */
  async partition (index: number): Promise<void> {
    await this.nft(index, `add rule inet ${TABLE} input iifname "eth0" drop comment "partition"
add rule inet ${TABLE} output oifname "eth0" drop comment "partition"`)
  }

  /** Undo `partition`. */
  async heal (index: number): Promise<void> {
    await this.deleteRules(index, 'partition')
  }

  private async deleteRules (index: number, comment: string): Promise<void> {
    for (const chain of ['input', 'output']) {
      const listing = await this.exec(index, 'nft', ['-a', 'list', 'chain', 'inet', TABLE, chain])
      for (const line of listing.split('\n')) {
        const handle = new RegExp(`comment "${comment}" # handle (\\d+)`).exec(line)?.[1]
        if (handle != null) await this.exec(index, 'nft', ['delete', 'rule', 'inet', TABLE, chain, 'handle', handle])
      }
    }
  }

  /** Give a host a new address in its /24 (its old one stops working). */
  async changeAddress (index: number, lastOctet: number): Promise<string> {
    const host = this.host(index)
    const ip = `${host.router?.lanSubnet ?? this.subnet}.${lastOctet}`
    await this.exec(index, 'ip', ['addr', 'del', `${host.ip}/24`, 'dev', 'eth0'])
    await this.exec(index, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0'])
    host.ip = ip
    if (host.router == null) host.publicIp = ip
    // the routes through eth0 went with its last address
    await this.addRoutes(host)
    return ip
  }

  /** Kill what runs in the hosts and routers, delete the namespaces (and with them the veth pairs), the bridge and the lab's files. */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    process.off('SIGINT', this.onSignal)
    process.off('SIGTERM', this.onSignal)
    process.off('exit', this.destroySync)
    await Promise.all([...this.children].map(async child => {
      if (child.exitCode != null || child.signalCode != null) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }))
    for (const { ns } of [...this.hosts, ...this.routers].filter(h => h != null)) await removeNamespace(ns)
    // a veth pair goes with its namespace, but the kernel frees a namespace in the background: the
    // ends on the bridge can outlive `netns del` for a while, and a next lab in this process (same
    // names) would meet them
    const mine = `${PREFIX}${this.id}-`
    for (const link of (await links()).filter(l => l.startsWith(mine))) await run('ip', ['link', 'del', link]).catch(() => {})
    await fs.rm(this.dir, { recursive: true, force: true })
  }

  /** Last resort at process exit (no async work possible): children die, the next run's sweep removes the rest. */
  private readonly destroySync = (): void => {
    for (const child of this.children) child.kill('SIGKILL')
  }
}
