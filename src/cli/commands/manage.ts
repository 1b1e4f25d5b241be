import fs from 'node:fs/promises'
import { parseCID } from '../../content/dag.js'
import { formatDuration } from '../../duration.js'
import { RepoError } from '../../errors.js'
import { repoPaths } from '../../store/repo-layout.js'
import { clientOf } from '../context.js'
import { formatBytes, out } from '../output.js'
import type { GlobalArgs } from '../context.js'
import type { CommandModule } from 'yargs'

export const idCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'id',
  describe: 'Show this peer\'s id and the full multiaddrs others can use to reach it (with no daemon running: from the repo and its config)',
  builder: y => y.example('$0 id --json', ''),
  handler: async args => {
    const client = clientOf(args)
    let id: { peerId: string, addresses: string[], running: boolean, reachability?: { state: string, reason: string } }
    try {
      id = { ...await client.json('GET', '/v1/id'), running: true }
    } catch (err: any) {
      if (err.name !== 'DaemonNotRunningError') throw err
      id = { ...await idFromRepo(client.repo), running: false }
    }
    if (args.json === true) {
      out.json(id)
      return
    }
    out.line(id.peerId)
    for (const a of id.addresses) out.line(`  ${a}`)
    if (id.reachability != null) out.line(`reachability: ${id.reachability.state} (${id.reachability.reason})`)
    if (!id.running) out.note('no daemon is running: these are the addresses its config listens on (a port of 0 is chosen when it starts)')
  }
}

/** The peer id in the repo's identity key, and the addresses its config listens on or announces. */
async function idFromRepo (repo: string): Promise<{ peerId: string, addresses: string[] }> {
  const paths = repoPaths(repo)
  await fs.access(paths.config).catch(() => { throw new RepoError(`no Shoal repo at ${repo} (create one with: shoal init --repo ${repo})`) })
  const [{ readPeerId }, { readConfig }] = await Promise.all([import('../../store/identity.js'), import('../../config/file.js')])
  const peerId = await readPeerId(paths.identity)
  const config = await readConfig(paths.config)
  const addresses = (config.announce.length > 0 ? config.announce : config.listen).map(a => `${a}/p2p/${peerId}`)
  return { peerId, addresses }
}

interface LsArgs extends GlobalArgs { downloads?: boolean }

export const lsCommand: CommandModule<GlobalArgs, LsArgs> = {
  command: 'ls',
  describe: 'List pinned roots with their sizes and why each is kept (user, replica), the fragments of erasure-coded roots kept here, then unfinished gets',
  builder: y => y
    .option('downloads', { type: 'boolean', describe: 'list only the unfinished gets (running, or interrupted: the same get resumes one)' })
    .example('$0 ls', '')
    .example('$0 ls --downloads --json', 'unfinished gets, as JSON') as any,
  handler: async args => {
    const { pins, fragments, downloads } = await clientOf(args).json('GET', '/v1/ls')
    if (args.json === true) {
      out.json(args.downloads === true ? downloads : pins)
      return
    }
    if (args.downloads !== true) {
      for (const p of pins) {
        const state = p.state === 'ok' ? '' : `  [${p.state}: not served; \`shoal verify ${p.cid}\` rechecks]`
        out.line(`${p.cid}  ${formatBytes(p.size).padStart(10)}  ${p.reasons.join(',').padEnd(14)}  ${p.kind === 'directory' ? p.name + '/' : p.name}${state}`)
      }
      if (fragments.length > 0) out.line('fragments of erasure-coded roots kept for the group (`shoal status CID` shows all of them):')
      for (const f of fragments) {
        const [k] = String(f.erasure).split('+').map(Number)
        const which = f.fragment == null ? 'fragment' : f.fragment < k ? `data fragment ${String(f.fragment)}` : `parity fragment ${String(f.fragment - k)}`
        out.line(`${f.cid}  ${formatBytes(f.size).padStart(10)}  ${f.erasure.padEnd(5)} ${which}, ${f.state}; the root: ${f.health}`)
      }
      if (downloads.length > 0) out.line('unfinished gets (the same get resumes one; `shoal rm --download CID` gives it up):')
    }
    for (const d of downloads) {
      const done = d.bytesTotal > 0 ? `${formatBytes(d.bytesDone)} of ${formatBytes(d.bytesTotal)}` : formatBytes(d.bytesDone)
      out.line(`${d.path ?? d.cid}  ${done.padStart(21)}  ${d.state.padEnd(11)}  ${d.target}`)
    }
  }
}

interface VerifyArgs extends GlobalArgs { cid?: string }

export const verifyCommand: CommandModule<GlobalArgs, VerifyArgs> = {
  command: 'verify [cid]',
  describe: 'Read back every leaf of a root (of every pin with no CID) from the files it is served from and the repo, and check it against its CID',
  builder: y => y.positional('cid', { type: 'string' })
    .example('$0 verify', 'every pin')
    .example('$0 verify bafybei…', '') as any,
  handler: async args => {
    const cid = args.cid == null ? undefined : parseCID(args.cid).toString()
    const { roots } = await clientOf(args).json('POST', '/v1/verify', { cid })
    const bad = roots.filter((r: any) => r.state !== 'ok')
    if (args.json === true) {
      out.json(roots)
    } else {
      for (const r of roots) {
        const files = r.files.filter((f: any) => f.state !== 'ok').map((f: any) => `${f.path} is ${f.state}`)
        out.line(`${r.cid}  ${r.state.padEnd(8)}  ${r.leaves - r.bad} of ${r.leaves} leaves intact${files.length > 0 ? `  (${files.join('; ')})` : ''}`)
      }
    }
    if (bad.length > 0) process.exitCode = 1
  }
}

interface CidArgs extends GlobalArgs { cid: string }
interface RmArgs extends CidArgs { download?: boolean }

export const rmCommand: CommandModule<GlobalArgs, RmArgs> = {
  command: 'rm <cid>',
  describe: 'Stop keeping a root: unpin it, drop its replica, give up its unfinished gets (blocks go at the next gc)',
  builder: y => y.positional('cid', { type: 'string', demandOption: true })
    .option('download', { type: 'boolean', describe: 'only give up its unfinished gets (their .part files are deleted); a pin stays' })
    .example('$0 rm bafybei…', '')
    .example('$0 rm --download bafybei…', 'give up an interrupted get, keep the pin') as any,
  handler: async args => {
    const cid = parseCID(args.cid)
    const r = await clientOf(args).json('POST', '/v1/rm', { cid: cid.toString(), downloadsOnly: args.download === true })
    if (args.json === true) out.json(r)
    else if (args.download === true) out.line(`gave up the unfinished get(s) of ${r.removed}`)
    else out.line(`removed ${r.removed} (was kept for: ${r.reasons.join(', ')})`)
  }
}

export const gcCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'gc',
  describe: 'Delete blocks nothing keeps (a pin, an unfinished get, a replica, an operation running now)',
  builder: y => y.example('$0 gc', ''),
  handler: async args => {
    const r = await clientOf(args).json('POST', '/v1/gc')
    if (args.json === true) out.json(r)
    else out.line(`removed ${r.blocks} block(s), ${formatBytes(r.bytes)} (files shared in place are never deleted, only no longer referred to)`)
  }
}

export const peersCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'peers',
  describe: 'List connected peers',
  builder: y => y.example('$0 peers', ''),
  handler: async args => {
    const { peers } = await clientOf(args).json('GET', '/v1/peers')
    if (args.json === true) {
      out.json(peers)
      return
    }
    for (const p of peers) out.line(`${p.peerId}  ${p.addresses.join(' ')}`)
  }
}

interface ConnectArgs extends GlobalArgs { address: string }

export const connectCommand: CommandModule<GlobalArgs, ConnectArgs> = {
  command: 'connect <address>',
  describe: 'Connect to a peer by full multiaddr (with /p2p/<peer id>)',
  builder: y => y.positional('address', { type: 'string', demandOption: true })
    .example('$0 connect /ip4/192.0.2.7/tcp/4401/p2p/12D3Koo…', '') as any,
  handler: async args => {
    const { checkMultiaddr } = await import('../../config/validate.js')
    const address = checkMultiaddr(args.address, 'address')
    const r = await clientOf(args).json('POST', '/v1/connect', { address })
    if (args.json === true) out.json(r)
    else out.line(`connected to ${r.peerId}`)
  }
}

interface ProvidersArgs extends CidArgs { timeout: number }

export const providersCommand: CommandModule<GlobalArgs, ProvidersArgs> = {
  command: 'providers <cid>',
  describe: 'Ask the DHT which peers hold a root',
  builder: y => y.positional('cid', { type: 'string', demandOption: true })
    .option('timeout', { type: 'number', default: 10, describe: 'seconds to search' })
    .example('$0 providers bafybei…', '') as any,
  handler: async args => {
    const cid = parseCID(args.cid)
    const { providers } = await clientOf(args).json('POST', '/v1/providers', { cid: cid.toString(), timeout: args.timeout * 1000 })
    if (args.json === true) {
      out.json(providers)
      return
    }
    if (providers.length === 0) out.note(`no providers found for ${cid.toString()} within ${formatDuration(args.timeout)}`)
    for (const p of providers) out.line(`${p.peerId}  ${p.addresses.join(' ')}`)
  }
}

export const statCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'stat',
  describe: 'What this peer stores (part by part, against its limit), pins, peers and bytes moved',
  builder: y => y.example('$0 stat', ''),
  handler: async args => {
    const s = await clientOf(args).json('GET', '/v1/stat')
    if (args.json === true) {
      out.json(s)
      return
    }
    const st = s.storage
    out.line(`repo        ${s.repo}: ${formatBytes(st.repo)}${st.limit > 0 ? ` of ${formatBytes(st.limit)} (--max-storage)` : ''}`)
    out.line(`  blocks    ${st.blocks.count} (${formatBytes(st.blocks.bytes)}; about ${formatBytes(st.cache)} read and kept by nothing: gc frees it)`)
    out.line(`  packs     ${st.packs.count} replica(s), ${formatBytes(st.packs.bytes)}`)
    out.line(`pins        ${s.pins}`)
    out.line(`in place    ${st.shared.count} file(s), ${formatBytes(st.shared.bytes)} (yours, served from where they are, not copied)`)
    if (st.partial.count > 0) out.line(`unfinished  ${st.partial.count} get output(s), ${formatBytes(st.partial.bytes)} written (\`shoal ls --downloads\`)`)
    out.line(`provided    ${s.provided} root(s) announced in the DHT`)
    for (const cid of s.referenced.modified) out.line(`modified    ${cid} (a file it is served from changed: not served; \`shoal verify ${cid}\`)`)
    for (const cid of s.referenced.missing) out.line(`missing     ${cid} (a file it is served from is gone: not served)`)
    out.line(`peers       ${s.peers} connected, ${s.dhtPeers} in the DHT's routing table`)
    out.line(`reachable   ${s.reachability.state} (${s.reachability.reason})`)
    for (const a of s.reachability.relayed) out.line(`  relayed   ${a}`)
    if (s.relaying != null) out.line(`relaying    for ${s.relaying.reservations} of at most ${s.relaying.max} peer(s) (--relay-service)`)
    out.line(`sent        ${formatBytes(s.bytesSent)}`)
    out.line(`received    ${formatBytes(s.bytesReceived)}`)
    out.line(`transfers   ${s.activeDownloads} down, ${s.activeUploads} up`)
    out.line(`replicas    ${s.replicas} held, ${s.activeRepairs} downloading`)
    for (const b of s.banned) out.line(`banned      ${b.peer} until ${new Date(b.until).toISOString()} (${b.reason})`)
  }
}

export const stopCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'stop',
  describe: 'Stop the daemon cleanly (after handing its replicas over) and wait until it has exited',
  builder: y => y.example('$0 stop', ''),
  handler: async args => {
    const client = clientOf(args)
    // the daemon hands its replicas over (bounded by replication.leaveTimeout), saying what it
    // waits for, then releases the repo lock as the last step of a clean stop
    const result = await client.events('/v1/stop', {}, event => {
      if (event.type !== 'handover' || args.json === true) return
      const more = event.pending - event.waiting.length
      const waiting = event.waiting.map((w: any) => `${w.root} (${w.copies} of ${w.wanted} copies elsewhere)`).join(', ') + (more > 0 ? ` and ${more} more` : '')
      out.note(`handing over ${event.pending} replica(s), ${formatDuration(event.seconds)} of at most ${formatDuration(event.timeout)}: waiting for ${waiting}`)
    })
    const lock = repoPaths(client.repo).lock
    const deadline = Date.now() + 180_000
    while (Date.now() < deadline) {
      const gone = await fs.access(lock).then(() => false, () => true)
      if (gone) break
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    if (args.json === true) {
      out.json({ stopped: true, handedOver: result.handedOver, unfinished: result.unfinished, short: result.short })
      return
    }
    if (result.handedOver > 0) out.note(`handed over ${result.handedOver} replica(s)`)
    for (const s of result.short) out.note(`short of copies without this peer: ${s.root} has ${s.copies} of ${s.wanted} elsewhere ${s.reason == null ? '(the other holders repair it)' : `(${s.reason}: given up)`}`)
    out.line('daemon stopped')
  }
}
