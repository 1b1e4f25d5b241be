import { parseCID } from '../../content/dag.js'
import { formatErasure, parseErasure } from '../../content/erasure.js'
import { InputError, UsageError } from '../../errors.js'
import { formatDuration } from '../../duration.js'
import { clientOf } from '../context.js'
import { formatBytes, out } from '../output.js'
import type { GlobalArgs } from '../context.js'
import type { CommandModule } from 'yargs'

interface StatusArgs extends GlobalArgs { cid: string }

interface HolderStatus {
  peer: string
  state: string
  downFor?: number
  replacedIn?: number
  bytesHeld?: number
  addresses?: string[]
  fragment?: number
}

interface ReplicaStatus {
  cid: string
  wanted: number
  max: number
  size: number
  health: string
  copies: number
  leader?: string
  holders: HolderStatus[]
  local: boolean
  erasure?: { k: number, m: number, layout: string, missing: number[] }
}

interface RootStatus extends Partial<ReplicaStatus> {
  cid: string
  here: string[]
  name?: string
  size: number
  replicated: boolean
  state: string
}

/** One holder, as people read it: state, id, what it is doing, where it is. */
function holderLine (h: HolderStatus, s: ReplicaStatus): string {
  const notes: string[] = []
  if (h.fragment != null && s.erasure != null) notes.push(h.fragment < s.erasure.k ? `data fragment ${h.fragment}` : `parity fragment ${h.fragment - s.erasure.k}`)
  if (h.peer === s.leader) notes.push('(leader)')
  if (h.state === 'absent') notes.push(`absent ${formatDuration((h.downFor ?? 0) / 1000)}; replaced in ${formatDuration((h.replacedIn ?? 0) / 1000)} unless it returns`)
  if (h.state === 'gone') notes.push(`gone ${formatDuration((h.downFor ?? 0) / 1000)}; no longer counted`)
  // a fragment is 1/K of the root
  if (h.state === 'fetching' && h.bytesHeld != null) notes.push(`${formatBytes(h.bytesHeld)} of ${s.erasure == null ? '' : 'about '}${formatBytes(s.erasure == null ? s.size : Math.ceil(s.size / s.erasure.k))}`)
  if (h.addresses != null && h.addresses.length > 0) notes.push(h.addresses[0])
  return `  ${h.state.padEnd(9)}${h.peer}${notes.length > 0 ? '  ' + notes.join('  ') : ''}`
}

function printReplication (s: ReplicaStatus): void {
  out.line(`${s.cid}  ${s.health}`)
  if (s.erasure != null) {
    const { k, m, missing } = s.erasure
    out.line(`  erasure  ${k}+${m}: ${s.copies} of ${k + m} fragments complete (any ${k} give back the file), ${formatBytes(s.size)}, ${((k + m) / k).toFixed(2)} x its size stored${missing.length > 0 ? `; no holder for ${missing.join(', ')}` : ''}`)
  } else {
    out.line(`  copies   ${s.copies} complete of ${s.wanted} wanted (at most ${s.max}), ${formatBytes(s.size)}`)
  }
  for (const h of s.holders) out.line(holderLine(h, s))
}

function printStatus (s: RootStatus): void {
  if (!s.replicated) {
    out.line(`${s.cid}  pinned here (${s.here.join(', ')}); no replication asked`)
    out.line(`  size     ${formatBytes(s.size)}`)
    stateLine(s)
    out.note(`\`shoal replicate ${s.cid} --replicas K\` keeps K copies in the swarm`)
    return
  }
  printReplication(s as ReplicaStatus)
  out.line(`  here     ${s.here.length > 0 ? `kept for: ${s.here.join(', ')}` : 'nothing of it is kept on this peer'}`)
  stateLine(s)
}

/** A root whose file changed or went is not served from here: say so. */
function stateLine (s: RootStatus): void {
  if (s.state !== 'ok') out.line(`  files    ${s.state}: not served from here until \`shoal verify ${s.cid}\` finds it intact`)
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: 'status <cid>',
  describe: 'A root as this peer keeps it, and its copies in the swarm: wanted, holders (closest first, with what each is doing) and health (ok, under-replicated, repairing, lost)',
  builder: y => y.positional('cid', { type: 'string', demandOption: true })
    .example('$0 status bafybei…', '')
    .example('$0 status bafybei… --json', '') as any,
  handler: async args => {
    const cid = parseCID(args.cid)
    const s: RootStatus = await clientOf(args).json('POST', '/v1/status', { cid: cid.toString() })
    if (args.json === true) out.json(s)
    else printStatus(s)
  }
}

export const replicasCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'replicas',
  describe: 'Roots this peer keeps as replicas, with their health',
  builder: y => y.example('$0 replicas --json', ''),
  handler: async args => {
    const { replicas }: { replicas: ReplicaStatus[] } = await clientOf(args).json('GET', '/v1/replicas')
    if (args.json === true) {
      out.json(replicas)
      return
    }
    if (replicas.length === 0) out.note('no replicas held')
    for (const s of replicas) printReplication(s)
  }
}

interface ReplicateArgs extends GlobalArgs {
  cid: string
  replicas?: number
  'replicas-max'?: number
  erasure?: string
}

export const replicateCommand: CommandModule<GlobalArgs, ReplicateArgs> = {
  command: 'replicate <cid>',
  describe: 'Keep K copies in the swarm of a root this peer holds (added or fetched), or K+M erasure-coded fragments; for a replicated root, change K',
  builder: y => y.positional('cid', { type: 'string', demandOption: true })
    .option('replicas', { alias: 'k', type: 'number', describe: 'copies to keep (K)' })
    .option('replicas-max', { type: 'number', describe: 'copies above this are trimmed (default: --replicas)' })
    .option('erasure', { type: 'string', describe: 'keep K data and M parity fragments on K+M peers instead of copies (e.g. 4+2)' })
    .example('$0 replicate bafybei… --replicas 3', '')
    .example('$0 replicate bafybei… --erasure 4+2', '') as any,
  handler: async args => {
    const cid = parseCID(args.cid)
    if ((args.replicas == null) === (args.erasure == null)) throw new UsageError('give --replicas K (copies) or --erasure K+M (fragments), one of them')
    const replicas = args.replicas == null ? undefined : positiveInt(args.replicas, '--replicas')
    const replicasMax = args['replicas-max'] == null ? undefined : positiveInt(args['replicas-max'], '--replicas-max')
    const erasure = args.erasure == null ? undefined : formatErasure(parseErasure(String(args.erasure)))
    const s: ReplicaStatus = await clientOf(args).json('POST', '/v1/replicate', { cid: cid.toString(), replicas, replicasMax, erasure })
    if (args.json === true) {
      out.json(s)
      return
    }
    printReplication(s)
    out.note(`\`shoal status ${s.cid}\` shows the copies as they are made`)
  }
}

function positiveInt (value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new InputError(`${what} must be a whole number of at least 1, got ${value}`)
  return value
}
