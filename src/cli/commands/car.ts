import fs from 'node:fs'
import path from 'node:path'
import { parseContentPath } from '../../content/dag.js'
import { InputError } from '../../errors.js'
import { copyStream } from '../../client/api-client.js'
import { clientOf, interruptSignal } from '../context.js'
import { formatBytes, out, plural } from '../output.js'
import type { GlobalArgs } from '../context.js'
import type { CommandModule } from 'yargs'

interface ExportArgs extends GlobalArgs {
  cid: string
  output?: string
  force?: boolean
  timeout?: number
}

export const exportCommand: CommandModule<GlobalArgs, ExportArgs> = {
  command: 'export <cid>',
  describe: 'Write the DAG of a CID as a CAR file (to stdout, or with -o to a file), fetching what is not here',
  builder: y => y
    .positional('cid', { type: 'string', demandOption: true, describe: 'root CID' })
    .option('output', { alias: 'o', type: 'string', describe: 'CAR file to write (written as FILE.part, renamed when whole)' })
    .option('force', { type: 'boolean', describe: 'with -o: replace a file of that name' })
    .option('timeout', { type: 'number', describe: 'seconds to wait with no reachable holder before failing' })
    .example('$0 export bafybei… > video.car', '')
    .example('$0 export bafybei… -o video.car', '') as any,
  handler: async args => {
    const { cid, path: inside } = parseContentPath(args.cid)
    if (args.output == null && process.stdout.isTTY) {
      throw new InputError('a CAR is binary: redirect stdout to a file, or give -o FILE')
    }
    const target = args.output == null ? undefined : path.resolve(args.output)
    const part = target == null ? undefined : `${target}.part`
    if (target != null && args.force !== true && fs.existsSync(target)) {
      throw new InputError(`${target} exists: give another name, or --force to replace it`)
    }
    const res = await clientOf(args).stream('/v1/export', {
      cid: [cid.toString(), ...inside].join('/'),
      providerTimeout: args.timeout == null ? undefined : args.timeout * 1000
    }, interruptSignal())
    let sink: NodeJS.WritableStream = process.stdout
    if (part != null) {
      // `wx`: a FILE.part that is not ours (nor a leftover we would delete) is never written over
      const handle = await fs.promises.open(part, 'wx').catch(err => {
        res.destroy()
        throw err.code === 'EEXIST' ? new InputError(`${part} exists (an unfinished export?): remove it and export again`) : err
      })
      sink = handle.createWriteStream()
    }
    try {
      await copyStream(res, sink, { end: part != null }, 'the CAR')
      if (part != null && target != null) await fs.promises.rename(part, target)
    } catch (err) {
      // an incomplete CAR is never left under a name that looks finished; the .part is ours (opened `wx`)
      if (part != null) await fs.promises.rm(part, { force: true })
      throw err
    }
    if (target != null) {
      if (args.json === true) out.json({ cid: cid.toString(), output: target })
      else out.line(target)
    }
  }
}

interface ImportArgs extends GlobalArgs {
  file: string
  pin?: boolean
}

export const importCommand: CommandModule<GlobalArgs, ImportArgs> = {
  command: 'import <file>',
  describe: 'Store every block of a CAR file (each verified), pin and announce its roots',
  builder: y => y
    .positional('file', { type: 'string', demandOption: true, describe: 'CAR file (e.g. from `ipfs-car pack` or `shoal export`)' })
    .option('pin', { type: 'boolean', default: true, describe: 'pin the roots (--no-pin to skip)' })
    .example('$0 import ./video.car', 'prints each root CID') as any,
  handler: async args => {
    const result = await clientOf(args).json('POST', '/v1/import', { path: path.resolve(args.file), pin: args.pin !== false }, interruptSignal())
    if (args.json === true) {
      out.json(result)
      return
    }
    for (const root of result.roots) out.line(root.cid)
    out.note(`imported ${plural(result.blocks, 'block')} (${formatBytes(result.bytes)}): ${result.roots.map((r: any) => `${r.name} (${r.kind}${r.kind === 'file' ? `, ${formatBytes(r.size)}` : ''})`).join(', ')}${result.pinned === true ? ', pinned' : ''}`)
  }
}
