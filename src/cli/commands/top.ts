import { InputError } from '../../errors.js'
import { clientOf } from '../context.js'
import { out } from '../output.js'
import { renderTop } from '../top-view.js'
import { topView } from '../../node/activity-view.js'
import type { GlobalArgs } from '../context.js'
import type { TopSample } from '../../node/activity-view.js'
import type { CommandModule } from 'yargs'

interface TopArgs extends GlobalArgs {
  interval: number
  once?: boolean
}

/** Clear the screen and home the cursor; hide the cursor while drawing, show it again at the end. */
const CLEAR = '\x1b[H\x1b[2J'
const HIDE_CURSOR = '\x1b[?25l'
const SHOW_CURSOR = '\x1b[?25h'

export const topCommand: CommandModule<GlobalArgs, TopArgs> = {
  command: 'top',
  describe: 'Watch the daemon: transfers with progress, rate and ETA, peers with their rates, replica health (refreshed in place; Ctrl-C ends it)',
  builder: y => y
    .option('interval', { type: 'number', default: 2, describe: 'seconds between readings (rates are over this interval)' })
    .option('once', { type: 'boolean', describe: 'print one reading (after one interval, so rates are known) and exit' })
    .example('$0 top', '')
    .example('$0 top --once --json', 'one reading as JSON') as any,
  handler: async args => {
    if (!(args.interval > 0) || args.interval > 3600) throw new InputError(`--interval: expected seconds between 0 and 3600, got ${args.interval}`)
    const client = clientOf(args)
    const sample = async (): Promise<TopSample> => {
      const [transfers, { replicas }] = await Promise.all([client.json('GET', '/v1/transfers'), client.json('GET', '/v1/replicas')])
      return { at: Date.now(), transfers, replicas }
    }
    const wait = async (): Promise<void> => { await new Promise(resolve => setTimeout(resolve, args.interval * 1000)) }
    let prev = await sample()
    const tty = process.stdout.isTTY && args.once !== true && args.json !== true
    if (tty) {
      process.stdout.write(HIDE_CURSOR)
      process.on('exit', () => { process.stdout.write(SHOW_CURSOR) })
      process.once('SIGINT', () => { process.exit(0) })
    }
    for (;;) {
      await wait()
      const now = await sample()
      const view = topView(prev, now)
      prev = now
      if (args.json === true) {
        out.json(view)
      } else {
        const rows = tty ? Math.max(3, Math.floor(((process.stdout.rows ?? 40) - 12) / 3)) : 20
        const lines = renderTop(view, rows)
        if (tty) process.stdout.write(CLEAR + lines.join('\n') + '\n')
        else out.line(lines.join('\n') + '\n')
      }
      if (args.once === true) return
    }
  }
}
