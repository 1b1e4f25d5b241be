import { spawn } from 'node:child_process'
import { clientOf } from '../context.js'
import { out } from '../output.js'
import type { GlobalArgs } from '../context.js'
import type { CommandModule } from 'yargs'

interface WebUiArgs extends GlobalArgs {
  open?: boolean
}

export const webuiCommand: CommandModule<GlobalArgs, WebUiArgs> = {
  command: 'webui',
  describe: 'Print a one-time link that signs a browser in to the daemon\'s web page (--open: open it)',
  builder: y => y
    .option('open', { type: 'boolean', describe: 'open the link in a browser ($BROWSER, else xdg-open or open)' })
    .example('$0 webui --open', '') as any,
  handler: async args => {
    const { url } = await clientOf(args).json('POST', '/v1/webui', {})
    if (args.json === true) out.json({ url })
    else out.line(url)
    if (args.open !== true) {
      if (args.json !== true) out.note('open it within 2 minutes; it works once, then the browser keeps a session')
      return
    }
    const opener = process.env.BROWSER ?? (process.platform === 'darwin' ? 'open' : 'xdg-open')
    await new Promise<void>(resolve => {
      const child = spawn(opener, [url], { stdio: 'ignore', detached: true })
      child.once('error', () => {
        out.note(`could not run ${opener} to open it: open the link above in a browser (or set $BROWSER)`)
        resolve()
      })
      child.once('spawn', () => { child.unref(); resolve() })
    })
  }
}
