import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import { promisify } from 'node:util'
import { ShoalError } from '../errors.js'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

const run = promisify(execFile)

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

export interface LabOptions {
  hosts: number
  /** The first three octets of the lab's /24, e.g. '10.231.7'. */
  subnet?: string
  profiles?: Record<number, HostProfile>
}

export interface Host {
  index: number
  /** Network namespace name. */
  ns: string
  /** The host's address on the lab bridge. */
  ip: string
}

/** The lab cannot run here (not root, a tool missing) or a command inside it failed. */
class LabError extends ShoalError {
  static override readonly name = 'LabError'
  override name = 'LabError'
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

async function sh (cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args)).stdout
  } catch (err: any) {
    throw new LabError(`${cmd} ${args.join(' ')}: ${String(err.stderr ?? err.message).trim()}`)
  }
}

/**
 * Test hosts on one machine: H network namespaces, each joined by a veth
 * pair to one bridge and given its own address in a private /24, with an
 * optional egress bandwidth limit (tc tbf) and random packet loss
 * (nftables). Hosts can be cut off (partition: every packet dropped, the
 * daemon left running) and healed, and can change address. There is no
 * delay: the kernel here has no netem. Everything is removed by `destroy`,
 * which also runs on SIGINT/SIGTERM and at exit; `sweep` removes what a
 * killed run left behind.
 */
export class HostLab {
  readonly hosts: Host[] = []
  readonly bridge: string
  private readonly id: string
  private readonly subnet: string
  private readonly children = new Set<ChildProcess>()
  private destroyed = false
  private added = 0
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    void this.destroy().finally(() => process.kill(process.pid, signal))
  }

  private constructor (id: string, subnet: string) {
    this.id = id
    this.subnet = subnet
    this.bridge = `${PREFIX}${id}-br`
  }

  static async create (options: LabOptions): Promise<HostLab> {
    await checkLabPrerequisites()
    await HostLab.sweep()
    const id = process.pid.toString(36)
    const lab = new HostLab(id, options.subnet ?? `10.231.${process.pid % 250}`)
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
    for (const ns of namespaces) await run('ip', ['netns', 'del', ns]).catch(() => {})
    const links = (await sh('ip', ['-o', 'link', 'show'])).split('\n').map(l => l.split(': ')[1]?.split('@')[0]).filter(stale)
    for (const link of links) await run('ip', ['link', 'del', link!]).catch(() => {})
  }

  host (index: number): Host {
    const h = this.hosts[index - 1]
    if (h == null) throw new LabError(`no host ${index}`)
    return h
  }

  /** Add a host (the next index) with its own address; returns it. */
  async addHost (profile: HostProfile = {}): Promise<Host> {
    // taken at once: hosts may be added concurrently
    const index = ++this.added
    if (index > 200) throw new LabError('the lab has room for 200 hosts')
    const ns = `${PREFIX}${this.id}-h${index}`
    const outside = `${PREFIX}${this.id}-v${index}`
    const ip = `${this.subnet}.${10 + index}`
    await roomForNeighbours(index)
    await sh('ip', ['netns', 'add', ns])
    this.hosts[index - 1] = { index, ns, ip }
    await sh('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
    await sh('ip', ['link', 'set', outside, 'master', this.bridge])
    await sh('ip', ['link', 'set', outside, 'up'])
    await this.exec(index, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0'])
    await this.exec(index, 'ip', ['link', 'set', 'eth0', 'up'])
    await this.exec(index, 'ip', ['link', 'set', 'lo', 'up'])
    // one table per host: a loss chain and a partition chain, both on input and output
    await this.nft(index, `add table inet ${TABLE}
add chain inet ${TABLE} input { type filter hook input priority 0; policy accept; }
add chain inet ${TABLE} output { type filter hook output priority 0; policy accept; }`)
    if (profile.rate != null) await this.setRate(index, profile.rate)
    if (profile.loss != null) await this.setLoss(index, profile.loss)
    return this.host(index)
  }

  /** Run a command inside a host and wait for it. */
  async exec (index: number, cmd: string, args: string[]): Promise<string> {
    return await sh('ip', ['netns', 'exec', this.host(index).ns, cmd, ...args])
  }

  /** Start a long-running process inside a host; it is killed by `destroy`. */
  spawn (index: number, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.host(index).ns, cmd, ...args], options)
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    return child
  }

  /** Apply an nftables script inside a host (`nft -f -`, the script on stdin). */
  private async nft (index: number, script: string): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', this.host(index).ns, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', d => { stderr += d })
    child.stdin!.end(script + '\n')
    const code = await new Promise(resolve => child.once('close', resolve))
    if (code !== 0) throw new LabError(`nft in host ${index}: ${stderr.trim()}`)
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

  /** Give a host a new address (its old one stops working). */
  async changeAddress (index: number, lastOctet: number): Promise<string> {
    const host = this.host(index)
    const ip = `${this.subnet}.${lastOctet}`
    await this.exec(index, 'ip', ['addr', 'del', `${host.ip}/24`, 'dev', 'eth0'])
    await this.exec(index, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0'])
    host.ip = ip
    return ip
  }

  /** Kill what runs in the hosts, delete the namespaces (and with them the veth pairs) and the bridge. */
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
    for (const host of this.hosts.filter(h => h != null)) {
      // processes still in the namespace (a daemon's own children) go with it
      await run('ip', ['netns', 'pids', host.ns]).then(async ({ stdout }) => {
        for (const pid of stdout.split('\n').filter(p => p !== '')) {
          try { process.kill(Number(pid), 'SIGKILL') } catch {}
        }
      }).catch(() => {})
      await run('ip', ['netns', 'del', host.ns]).catch(() => {})
    }
    await run('ip', ['link', 'del', this.bridge]).catch(() => {})
  }

  /** Last resort at process exit (no async work possible): children die, the next run's sweep removes the rest. */
  private readonly destroySync = (): void => {
    for (const child of this.children) child.kill('SIGKILL')
  }
}
