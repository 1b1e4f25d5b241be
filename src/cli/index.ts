import yargs from 'yargs'
import { UsageError } from '../errors.js'
import { hideBin } from 'yargs/helpers'
import { daemonCommand, groupKeyCommand, initCommand, swarmKeyCommand } from './commands/daemon.js'
import { connectCommand, gcCommand, idCommand, lsCommand, peersCommand, providersCommand, rmCommand, statCommand, stopCommand, verifyCommand } from './commands/manage.js'
import { churnCommand } from './commands/churn.js'
import { replicasCommand, replicateCommand, statusCommand } from './commands/replication.js'
import { addCommand, catCommand, getCommand } from './commands/transfer.js'
import { exportCommand, importCommand } from './commands/car.js'
import { topCommand } from './commands/top.js'
import { webuiCommand } from './commands/webui.js'
import { EXIT, exitCodeFor } from './exit-codes.js'
import { endQuietlyOnClosedStdout, out } from './output.js'
import { closestName } from './suggest.js'

/**
 * The `shoal` command. Every failure ends as one line on stderr and an exit
 * code from `exit-codes.ts`; stack traces are shown only with DEBUG set.
 */
const COMMANDS = [initCommand, daemonCommand, idCommand, addCommand, getCommand, catCommand, exportCommand, importCommand, lsCommand, rmCommand, gcCommand,
  verifyCommand, peersCommand, connectCommand, providersCommand, statusCommand, replicasCommand, replicateCommand, statCommand, topCommand, webuiCommand, stopCommand,
  churnCommand, swarmKeyCommand, groupKeyCommand]

/** Each command's usage line, by name: `get` → `get <cid>`. */
const USAGE = new Map(COMMANDS.map(c => [String(c.command).split(' ')[0], String(c.command)]))

/**
 * yargs' usage errors, said for people: a missing argument names itself and
 * the command's usage, an unknown option its likely intended name.
 */
function usageMessage (msg: string, argv: string[], known: string[]): string {
  const command = argv.find(a => !a.startsWith('-'))
  const usage = command != null ? USAGE.get(command) : undefined
  if (usage != null && /^Not enough non-option arguments/.test(msg)) {
    const wanted = usage.split(' ').slice(1).filter(p => p.startsWith('<'))
    return `missing ${wanted.join(' ')}: usage: shoal ${usage} [options] (shoal ${command} --help for more)`
  }
  const recommended = /^Did you mean (.+)\?$/.exec(msg)
  if (recommended != null) return `unknown command ${command ?? ''} (did you mean ${recommended[1]}?)`
  const unknown = /^Unknown arguments?: (.+)$/.exec(msg)
  if (unknown != null && command != null && !USAGE.has(command) && unknown[1].split(', ')[0] === command) {
    return `unknown command ${command} (shoal --help lists them)`
  }
  if (unknown != null) {
    const args = unknown[1].split(', ')
    const options = args.filter(arg => argv.some(a => a === `--${arg}` || a.startsWith(`--${arg}=`) || a === `-${arg}`))
    if (options.length === 0) return `unexpected argument${args.length > 1 ? 's' : ''} ${args.join(' ')}${usage != null ? `: usage: shoal ${usage} [options]` : ''}`
    const hints = options.map(arg => {
      const guess = closestName(arg, known.filter(k => k.length > 1))
      return guess == null ? `--${arg}` : `--${arg} (did you mean --${guess}?)`
    })
    return `unknown option${hints.length > 1 ? 's' : ''} ${hints.join(', ')}`
  }
  return msg
}

export async function main (argv: string[] = hideBin(process.argv)): Promise<void> {
  const parser = yargs(argv)
    .scriptName('shoal')
    .usage('$0 <command> [options]\n\nA peer-to-peer file-sharing daemon: share a file on one peer, fetch it by CID on any other.')
    .option('repo', { type: 'string', global: true, describe: 'repo folder (default: $SHOAL_REPO or ~/.shoal)' })
    .option('json', { type: 'boolean', global: true, describe: 'machine-readable output' })
    .command(COMMANDS as any)
    .demandCommand(1, 'name a command (shoal --help lists them)')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err != null) throw err
      // while a command runs, the parser's options are that command's (getOptions is left out of its types)
      const options = (parser as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions()
      throw new UsageError(usageMessage(msg, argv, Object.keys(options.key)))
    })

  endQuietlyOnClosedStdout()
  try {
    await parser.parseAsync()
  } catch (err: any) {
    const interrupted = err?.name === 'InterruptedError' || err?.cause?.name === 'InterruptedError'
    const name = interrupted ? 'InterruptedError' : String(err?.name ?? 'Error')
    const code = interrupted ? EXIT.INTERRUPTED : exitCodeFor(name)
    const raw = interrupted && err?.name !== 'InterruptedError' ? String(err.cause.message) : String(err?.message ?? err)
    // yargs spreads some usage errors over lines ("Invalid values:\n  Argument: …"): keep them on one
    const message = name === 'UsageError' ? raw.split('\n').map(l => l.trim()).filter(l => l !== '').join(' ') : raw.split('\n')[0]
    out.error(message)
    // scripts get one JSON object, on stdout where they read the results
    if (argv.includes('--json')) out.json({ error: { name, message, exitCode: code } })
    if (code === EXIT.USAGE && name === 'UsageError') out.note('run "shoal --help" for usage')
    if (process.env.DEBUG != null) console.error(err)
    process.exitCode = code
  }
}
