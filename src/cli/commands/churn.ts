import fs from 'node:fs/promises'
import path from 'node:path'
import { InputError, InterruptedError } from '../../errors.js'
import { parseSize } from '../../config/units.js'
import { parseErasure } from '../../content/erasure.js'
import { EXIT } from '../exit-codes.js'
import { out } from '../output.js'
import type { ChurnModelName } from '../../churn/model.js'
import type { GlobalArgs } from '../context.js'
import type { CommandModule } from 'yargs'

interface ChurnArgs extends GlobalArgs {
  peers: number
  files: number
  'file-size': string
  replicas: number
  erasure?: string
  duration: number
  interval: number
  model: ChurnModelName
  median: number
  shape: number
  downtime: number
  'max-down': number
  'kill-ratio': number
  'new-ratio': number
  seed?: number
  'grace-period': number
  'check-interval': number
  fetchers: number
  hosts?: boolean
  'host-rate'?: string
  'host-loss'?: number
  'partition-ratio': number
  dir?: string
  keep?: boolean
  quiet?: boolean
}

function check (ok: boolean, message: string): void {
  if (!ok) throw new InputError(message)
}

export const churnCommand: CommandModule<GlobalArgs, ChurnArgs> = {
  command: 'churn',
  describe: 'Churn test: start N daemons, add files with K replicas, stop and restart peers for a while, fetch and verify all along, report',
  builder: y => y
    .option('peers', { type: 'number', default: 12, describe: 'daemons to run (each its own repo and loopback address)' })
    .option('files', { type: 'number', default: 10, describe: 'random files to add' })
    .option('file-size', { type: 'string', default: '4MiB', describe: 'size of each file, e.g. 4MiB' })
    .option('replicas', { alias: 'k', type: 'number', default: 3, describe: 'replication factor K' })
    .option('erasure', { type: 'string', describe: 'keep each file erasure-coded instead of in --replicas copies: K+M (e.g. 4+2) fragments, each on its own peer' })
    .option('duration', { type: 'number', default: 120, describe: 'seconds of churn' })
    .option('model', { choices: ['fixed', 'exponential', 'weibull'] as const, default: 'fixed' as const, describe: 'churn model' })
    .option('interval', { type: 'number', default: 10, describe: 'fixed model: seconds between two stops' })
    .option('median', { type: 'number', default: 60, describe: 'exponential/weibull: median session length in seconds' })
    .option('shape', { type: 'number', default: 0.6, describe: 'weibull shape (below 1: many short sessions, a few long ones)' })
    .option('downtime', { type: 'number', default: 15, describe: 'median seconds a stopped peer stays down' })
    .option('max-down', { type: 'number', default: 2, describe: 'never more than this many peers down at once' })
    .option('kill-ratio', { type: 'number', default: 0.5, describe: 'share of stops that are SIGKILL (the rest: graceful stop with hand-over)' })
    .option('new-ratio', { type: 'number', default: 0.2, describe: 'share of comebacks that are a brand-new peer instead of a restart' })
    .option('seed', { type: 'number', describe: 'random seed (default: random; printed, so a run can be repeated)' })
    .option('grace-period', { type: 'number', default: 5, describe: 'daemons\' grace period in seconds before repairing' })
    .option('check-interval', { type: 'number', default: 1, describe: 'daemons\' liveness probe interval in seconds' })
    .option('fetchers', { type: 'number', default: 2, describe: 'fetch loops running at once' })
    .option('hosts', { type: 'boolean', describe: 'run each peer on its own lab host: a network namespace with its own address on a bridge (root, iproute2 and nftables needed)' })
    .option('host-rate', { type: 'string', describe: 'with --hosts: each host\'s upload limit, e.g. 20mbit (tc)' })
    .option('host-loss', { type: 'number', describe: 'with --hosts: percent of packets each host drops at random (nftables)' })
    .option('partition-ratio', { type: 'number', default: 0.3, describe: 'with --hosts: share of stops that are partitions (the host cut off, its daemon left running)' })
    .option('dir', { type: 'string', describe: 'work directory for repos, logs, report.json and chart.svg (default: a new temp dir)' })
    .option('keep', { type: 'boolean', describe: 'keep the peers\' repos afterwards' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no progress lines on stderr' })
    .example('$0 churn', '12 peers, 10 × 4 MiB files, K=3, one stop every 10 s for 120 s')
    .example('$0 churn --peers 20 --model weibull --median 40 --duration 300 --json', '')
    .example('$0 churn --erasure 4+2', 'the same churn with each file in six fragments, any four of which read it')
    .example('$0 churn --hosts --host-rate 20mbit --host-loss 1 --partition-ratio 0.5', 'peers on lab hosts, with partitions beside kills (root)') as any,
  handler: async args => {
    const fileSize = parseSize(args['file-size'], '--file-size')
    check(Number.isSafeInteger(args.peers) && args.peers >= 2, '--peers must be a whole number of at least 2')
    check(Number.isSafeInteger(args.files) && args.files >= 1, '--files must be at least 1')
    check(fileSize >= 1, '--file-size must be at least one byte')
    check(Number.isSafeInteger(args.replicas) && args.replicas >= 1 && args.replicas <= args.peers, '--replicas must be between 1 and --peers')
    const erasure = args.erasure == null ? undefined : parseErasure(String(args.erasure))
    check(erasure == null || erasure.k + erasure.m <= args.peers - args['max-down'], '--erasure K+M needs at least K+M peers up with --max-down of them down: raise --peers or lower --max-down')
    check(args['max-down'] >= 0 && args['max-down'] < args.peers, '--max-down must be below --peers')
    check(args['kill-ratio'] >= 0 && args['kill-ratio'] <= 1, '--kill-ratio must be between 0 and 1')
    check(args['new-ratio'] >= 0 && args['new-ratio'] <= 1, '--new-ratio must be between 0 and 1')
    check(args['partition-ratio'] >= 0 && args['partition-ratio'] <= 1, '--partition-ratio must be between 0 and 1')
    check(args.hosts === true || (args['host-rate'] == null && args['host-loss'] == null), '--host-rate and --host-loss need --hosts')
    check(args['host-loss'] == null || (args['host-loss'] >= 0 && args['host-loss'] < 100), '--host-loss must be a percentage below 100')
    check(args['host-rate'] == null || /^\d+(\.\d+)?(bit|kbit|mbit|gbit)$/.test(args['host-rate']), '--host-rate must be a tc rate such as 20mbit')
    for (const name of ['duration', 'interval', 'median', 'shape', 'downtime', 'grace-period', 'check-interval', 'fetchers'] as const) {
      check(Number.isFinite(args[name]) && args[name] > 0, `--${name} must be a positive number`)
    }
    const seed = args.seed ?? Math.floor(Math.random() * 2 ** 31)
    const controller = new AbortController()
    const interrupt = (): void => {
      controller.abort(new InterruptedError('interrupted'))
    }
    process.once('SIGINT', interrupt)
    process.once('SIGTERM', interrupt)
    const dir = args.dir == null ? undefined : path.resolve(args.dir)
    try {
      const [{ runChurn }, { churnChart }, { formatReport }] = await Promise.all([
        import('../../churn/harness.js'), import('../../churn/chart.js'), import('../../churn/report.js')
      ])
      const report = await runChurn({
        peers: args.peers,
        files: args.files,
        fileSize,
        replicas: args.replicas,
        erasure,
        duration: args.duration,
        model: args.model,
        interval: args.interval,
        median: args.median,
        shape: args.shape,
        downtime: args.downtime,
        maxDown: args['max-down'],
        killRatio: args['kill-ratio'],
        newRatio: args['new-ratio'],
        seed,
        gracePeriod: args['grace-period'],
        checkInterval: args['check-interval'],
        fetchers: args.fetchers,
        hosts: args.hosts === true ? { rate: args['host-rate'], loss: args['host-loss'] } : undefined,
        partitionRatio: args.hosts === true ? args['partition-ratio'] : 0,
        dir,
        keep: args.keep === true,
        log: line => { if (args.quiet !== true) out.note(`churn: ${line}`) },
        signal: controller.signal
      })
      const json = path.join(report.dir, 'report.json')
      const svg = path.join(report.dir, 'chart.svg')
      await fs.writeFile(json, JSON.stringify(report, null, 2) + '\n')
      await fs.writeFile(svg, churnChart(report))
      if (args.json === true) {
        out.json(report)
        out.note(formatReport(report))
      } else {
        out.line(formatReport(report))
      }
      out.note(`report: ${json}\nchart:  ${svg}`)
      if (report.lost > 0 || report.corrupt > 0) {
        out.error(`${report.lost} file(s) lost, ${report.corrupt} corrupt read(s)`)
        process.exitCode = EXIT.ERROR
      }
    } finally {
      process.off('SIGINT', interrupt)
      process.off('SIGTERM', interrupt)
    }
  }
}
