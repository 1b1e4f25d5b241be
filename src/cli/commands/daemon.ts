import { startDaemon } from '../../daemon/daemon.js'
import { checkMultiaddr, parseRate } from '../../store/config.js'
import { initRepo } from '../../store/repo.js'
import { defaultConfig } from '../../store/config.js'
import { out } from '../output.js'
import { repoOf } from '../context.js'
import type { GlobalArgs } from '../context.js'
import type { ShoalConfig } from '../../store/config.js'
import type { Argv, CommandModule } from 'yargs'

interface NetworkArgs extends GlobalArgs {
  listen?: string[]
  bootstrap?: string[]
  announce?: string[]
  mdns?: boolean
  'max-upload-rate'?: string
  'max-download-rate'?: string
}

function networkOptions<T> (y: Argv<T>): Argv<T & NetworkArgs> {
  return y
    .option('listen', { type: 'string', array: true, describe: 'multiaddr to listen on (repeatable)' })
    .option('bootstrap', { type: 'string', array: true, describe: 'peer to join through, a full multiaddr with /p2p/ (repeatable)' })
    .option('announce', { type: 'string', array: true, describe: 'multiaddr to announce instead of the listen addresses (repeatable)' })
    .option('mdns', { type: 'boolean', describe: 'find peers on the local network with mDNS' })
    .option('max-upload-rate', { type: 'string', describe: 'upload limit, e.g. 10MB or 512KiB per second (0: unlimited)' })
    .option('max-download-rate', { type: 'string', describe: 'download limit, e.g. 50MB per second (0: unlimited)' }) as any
}

/** Config fields given on the command line. */
function overrides (args: NetworkArgs): Partial<ShoalConfig> {
  const o: Partial<ShoalConfig> = {}
  if (args.listen != null) o.listen = args.listen.map(a => checkMultiaddr(a, '--listen'))
  if (args.bootstrap != null) o.bootstrap = args.bootstrap.map(a => checkMultiaddr(a, '--bootstrap'))
  if (args.announce != null) o.announce = args.announce.map(a => checkMultiaddr(a, '--announce'))
  if (args.mdns != null) o.mdns = args.mdns
  if (args['max-upload-rate'] != null) o.maxUploadRate = parseRate(args['max-upload-rate'], '--max-upload-rate')
  if (args['max-download-rate'] != null) o.maxDownloadRate = parseRate(args['max-download-rate'], '--max-download-rate')
  return o
}

export const initCommand: CommandModule<GlobalArgs, NetworkArgs> = {
  command: 'init',
  describe: 'Create a repo (config, identity, stores); the flags are written to its config',
  builder: y => networkOptions(y).example('$0 init --repo ./peer-a --listen /ip4/0.0.0.0/tcp/4401', ''),
  handler: async args => {
    const repo = repoOf(args)
    const created = await initRepo(repo, { ...defaultConfig(), ...overrides(args) })
    if (args.json === true) {
      out.json({ repo, created })
    } else {
      out.line(created ? `initialised repo ${repo}` : `repo ${repo} already exists; left unchanged`)
    }
  }
}

export const daemonCommand: CommandModule<GlobalArgs, NetworkArgs> = {
  command: 'daemon',
  describe: 'Run a peer in the foreground: serve and fetch blocks, answer the CLI (creates the repo if needed; flags override its config for this run)',
  builder: y => networkOptions(y)
    .example('$0 daemon --repo ./peer-b --listen /ip4/127.0.0.1/tcp/4402 --bootstrap /ip4/127.0.0.1/tcp/4401/p2p/12D3Koo…', ''),
  handler: async args => {
    const repo = repoOf(args)
    const daemon = await startDaemon({
      repo,
      config: overrides(args),
      report: line => { out.note(`shoal daemon: ${line}`) }
    })
    await daemon.stopped
  }
}
