import { spawn } from 'node:child_process'
import { clientOf } from '../context.js'
import { out } from '../output.js'
import type { GlobalArgs } from '../context.js'
import type { CommandModule } from 'yargs'

interface WebUiArgs extends GlobalArgs {
  open?: boolean
  revoke?: boolean
}

export const webuiCommand: CommandModule<GlobalArgs, WebUiArgs> = {
  command: 'webui',
  describe: 'Print a one-time link that signs a browser in to the daemon\'s web page (--open: open it; --revoke: sign every browser out)',
  builder: y => y
    .option('open', { type: 'boolean', describe: 'open the link in a browser ($BROWSER, else xdg-open or open)' })
    .option('revoke', { type: 'boolean', describe: 'end every browser\'s session and every link not yet used (also after a restart)' })
    .conflicts('revoke', 'open')
    .example('$0 webui --open', '')
    .example('$0 webui --revoke', '') as any,
  handler: async args => {
    if (args.revoke === true) {
      const { served } = await clientOf(args).json('POST', '/v1/webui/revoke', {})
      if (args.json === true) out.json({ revoked: true, served })
      else out.line(`every web page session ended${served === true ? '' : ' (the daemon serves no page now; none it serves later accepts them)'}: run \`shoal webui\` to sign a browser in again`)
      return
    }
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
