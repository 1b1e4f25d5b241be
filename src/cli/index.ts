import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { daemonCommand, initCommand, swarmKeyCommand } from './commands/daemon.js'
import { connectCommand, gcCommand, idCommand, lsCommand, peersCommand, providersCommand, rmCommand, statCommand, stopCommand } from './commands/manage.js'
import { churnCommand } from './commands/churn.js'
import { replicasCommand, statusCommand } from './commands/replication.js'
import { addCommand, catCommand, getCommand } from './commands/transfer.js'
import { EXIT, exitCodeFor } from './exit-codes.js'
import { out } from './output.js'

/**
 * The `shoal` command. Every failure ends as one line on stderr and an exit
 * code from `exit-codes.ts`; stack traces are shown only with DEBUG set.
 */
export async function main (argv: string[] = hideBin(process.argv)): Promise<void> {
  const parser = yargs(argv)
    .scriptName('shoal')
    .usage('$0 <command> [options]\n\nA peer-to-peer file-sharing daemon: share a file on one peer, fetch it by CID on any other.')
    .option('repo', { type: 'string', global: true, describe: 'repo folder (default: $SHOAL_REPO or ~/.shoal)' })
    .option('json', { type: 'boolean', global: true, describe: 'machine-readable output' })
    .command(initCommand)
    .command(daemonCommand)
    .command(idCommand)
    .command(addCommand)
    .command(getCommand)
    .command(catCommand)
    .command(lsCommand)
    .command(rmCommand)
    .command(gcCommand)
    .command(peersCommand)
    .command(connectCommand)
    .command(providersCommand)
    .command(statusCommand)
    .command(replicasCommand)
    .command(statCommand)
    .command(stopCommand)
    .command(churnCommand)
    .command(swarmKeyCommand)
    .demandCommand(1, 'name a command (shoal --help lists them)')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err != null) throw err
      const e = new Error(msg)
      e.name = 'UsageError'
      throw e
    })

  try {
    await parser.parseAsync()
  } catch (err: any) {
    if (err?.name === 'InterruptedError' || err?.cause?.name === 'InterruptedError') {
      out.error('interrupted')
      process.exitCode = EXIT.INTERRUPTED
      return
    }
    const code = exitCodeFor(err?.name ?? '')
    const message = String(err?.message ?? err)
    // yargs spreads some usage errors over lines ("Invalid values:\n  Argument: …"): keep them on one
    out.error(err?.name === 'UsageError' ? message.split('\n').map(l => l.trim()).filter(l => l !== '').join(' ') : message.split('\n')[0])
    if (code === EXIT.USAGE && err?.name === 'UsageError') out.note('run "shoal --help" for usage')
    if (process.env.DEBUG != null) console.error(err)
    process.exitCode = code
  }
}
