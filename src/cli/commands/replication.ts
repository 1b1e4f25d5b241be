import { parseCID } from '../../content/dag.js'
import { clientOf } from '../context.js'
import { formatBytes, out } from '../output.js'
import type { GlobalArgs } from '../context.js'
import type { CommandModule } from 'yargs'

interface StatusArgs extends GlobalArgs { cid: string }

interface HolderStatus { peer: string, state: string }
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
}

function printStatus (s: ReplicaStatus): void {
  out.line(`${s.cid}  ${s.health}`)
  out.line(`  copies   ${s.copies} complete of ${s.wanted} wanted (at most ${s.max}), ${formatBytes(s.size)}`)
  for (const h of s.holders) out.line(`  ${h.state.padEnd(9)}${h.peer}${h.peer === s.leader ? '  (leader)' : ''}`)
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: 'status <cid>',
  describe: 'Replication of a root: copies wanted, holders and health (ok, under-replicated, repairing, lost)',
  builder: y => y.positional('cid', { type: 'string', demandOption: true })
    .example('$0 status bafybei…', '')
    .example('$0 status bafybei… --json', '') as any,
  handler: async args => {
    const cid = parseCID(args.cid)
    const s: ReplicaStatus = await clientOf(args).json('POST', '/v1/status', { cid: cid.toString() })
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
    for (const s of replicas) printStatus(s)
  }
}
