import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { parseContentPath } from '../../content/dag.js'
import { formatErasure, parseErasure } from '../../content/erasure.js'
import { InputError, InterruptedError } from '../../errors.js'
import { DaemonGoneError, copyStream } from '../../client/api-client.js'
import { partOf } from '../../node/output-commit.js'
import { clientOf, interruptSignal } from '../context.js'
import { formatDuration } from '../../duration.js'
import { RateMeter, formatBytes, out, plural, progressBar } from '../output.js'
import type { GlobalArgs } from '../context.js'
import type { CommandModule } from 'yargs'

interface AddArgs extends GlobalArgs {
  path: string
  recursive?: boolean
  'follow-symlinks'?: boolean
  copy?: boolean
  pin?: boolean
  'chunk-size'?: number
  quiet?: boolean
  replicas?: number
  'replicas-max'?: number
  erasure?: string
}

export const addCommand: CommandModule<GlobalArgs, AddArgs> = {
  command: 'add <path>',
  describe: 'Share a file (or with -r a directory): store it, pin it, announce it; prints its root CID',
  builder: y => y
    .positional('path', { type: 'string', demandOption: true, describe: 'file or directory to share' })
    .option('recursive', { alias: 'r', type: 'boolean', describe: 'add a directory and everything in it' })
    .option('follow-symlinks', { type: 'boolean', describe: 'with -r: add what symbolic links point to (by default they are skipped, and named)' })
    .option('copy', { type: 'boolean', describe: 'keep a private copy in the repo (by default the repo refers to the file where it is, and serves it from there while it stays unchanged)' })
    .option('pin', { type: 'boolean', default: true, describe: 'keep it through gc (--no-pin to skip)' })
    .option('chunk-size', { type: 'number', describe: 'chunk size in bytes (default from config: 1 MiB)' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'print only the CID' })
    .option('replicas', { alias: 'k', type: 'number', describe: 'keep this many copies in the swarm, repaired when holders leave (default from config: 1)' })
    .option('replicas-max', { type: 'number', describe: 'copies above this are trimmed (default: --replicas)' })
    .option('erasure', { type: 'string', describe: 'keep it erasure-coded instead of in copies: K+M (e.g. 4+2) spreads K data and M parity fragments over K+M peers, any K of which give the file back, at (K+M)/K x its size' })
    .example('$0 add ./video.mp4', '')
    .example('$0 add ./video.mp4 --replicas 3', 'three peers keep a copy; see `shoal status`')
    .example('$0 add ./video.mp4 --erasure 4+2', 'six peers keep a fragment each; any four give it back')
    .example('$0 add -r ./photos --json', '') as any,
  handler: async args => {
    const client = clientOf(args)
    const size = args['chunk-size'] == null ? undefined : (await import('../../config/validate.js')).chunkSize(args['chunk-size'], '--chunk-size')
    const bar = progressBar('adding  [{bar}] {percentage}% | {done} of {all} | {rate}/s', args.json !== true && args.quiet !== true)
    const rate = new RateMeter()
    try {
      const result = await client.events('/v1/add', {
        path: path.resolve(args.path),
        recursive: args.recursive === true,
        followSymlinks: args['follow-symlinks'] === true,
        copy: args.copy === true,
        pin: args.pin !== false,
        chunkSize: size,
        replicas: positiveInt(args.replicas, '--replicas'),
        replicasMax: positiveInt(args['replicas-max'], '--replicas-max'),
        erasure: args.erasure == null ? undefined : formatErasure(parseErasure(String(args.erasure)))
      }, event => {
        if (event.type === 'progress') {
          bar.update(event.bytes, event.total, { done: formatBytes(event.bytes), all: formatBytes(event.total), rate: formatBytes(rate.add(event.bytes)) })
        }
      }, interruptSignal())
      bar.stop()
      if (args.json === true) {
        out.json({ cid: result.cid, name: result.name, size: result.size, kind: result.kind, pinned: result.pinned, replication: result.replication, skipped: result.skipped })
      } else {
        out.line(result.cid)
        if (result.skipped.length > 0) {
          const links = result.skipped.some((e: any) => e.reason === 'symbolic link') ? ' (--follow-symlinks adds what links point to)' : ''
          out.note(`skipped ${result.skipped.length} entr${result.skipped.length === 1 ? 'y' : 'ies'}${links}: ${result.skipped.map((e: any) => `${e.path} (${e.reason})`).join(', ')}`)
        }
        if (args.quiet !== true) out.note(`added ${result.name} (${formatBytes(result.size)}${result.pinned === true ? ', pinned' : ''})`)
        if (args.quiet !== true && result.replication != null) {
          const r = result.replication
          const placed = r.holders.length
          const what = r.erasure == null ? 'replicas' : `fragments (${r.erasure.k}+${r.erasure.m})`
          out.note(`${what}: ${placed} of ${r.wanted} placed${placed < r.wanted ? ' (the rest are placed as peers appear)' : ''}; \`shoal status ${result.cid}\` shows progress`)
        }
      }
    } finally {
      bar.stop()
    }
  }
}

function positiveInt (value: number | undefined, what: string): number | undefined {
  if (value == null) return undefined
  if (!Number.isSafeInteger(value) || value < 1) throw new InputError(`${what} must be a whole number of at least 1, got ${value}`)
  return value
}

interface GetArgs extends GlobalArgs {
  cid: string
  output?: string
  pin?: boolean
  force?: boolean
  timeout?: number
}

export const getCommand: CommandModule<GlobalArgs, GetArgs> = {
  command: 'get <cid>',
  describe: 'Fetch a file or directory by CID from the swarm, verify every block, write it out',
  builder: y => y
    .positional('cid', { type: 'string', demandOption: true, describe: 'root CID, or CID/path/inside (only the blocks on that path and under it are fetched)' })
    .option('output', { alias: 'o', type: 'string', describe: 'file to write, or an existing folder to write into as <folder>/<cid> (default: ./<cid>)' })
    .option('pin', { type: 'boolean', default: true, describe: 'pin it, so this peer keeps serving it (--no-pin to skip)' })
    .option('force', { type: 'boolean', describe: 'replace a file of the same name (never a directory)' })
    .option('timeout', { type: 'number', describe: 'seconds to wait with no reachable holder before failing (default from config: 60)' })
    .example('$0 get bafybei… -o ./copy.mp4', '')
    .example('$0 get bafybei…/photos/cat.jpg', 'one file of a shared directory, as ./cat.jpg')
    .example('$0 get bafybei… --json', 'NDJSON progress events, then a summary') as any,
  handler: async args => {
    const { cid, path: inside } = parseContentPath(args.cid)
    const client = clientOf(args)
    // the current folder by default: the file lands in it as ./CID
    const output = path.resolve(args.output ?? '.')
    const json = args.json === true
    const bar = progressBar('fetching [{bar}] {percentage}% | {done} of {size} | {rate}/s | ETA {left} | {peers}', !json)
    const rate = new RateMeter()
    let last: { bytesDone: number, bytesTotal: number } | undefined
    // the final name, and what was there before the daemon renamed the verified file into place
    let writing: { output: string, before?: { ino: number, mtimeMs: number } } | undefined
    try {
      const result = await client.events('/v1/get', {
        cid: [cid.toString(), ...inside].join('/'),
        output,
        pin: args.pin !== false,
        force: args.force === true,
        providerTimeout: args.timeout == null ? undefined : args.timeout * 1000
      }, event => {
        if (event.type === 'phase' && event.phase === 'writing') writing = { output: event.output, before: statSync(event.output, { throwIfNoEntry: false }) }
        if (json) {
          if (event.type === 'progress' || event.type === 'phase') out.json(event)
          if (event.type === 'progress') last = event
          return
        }
        if (event.type === 'phase' && event.phase === 'searching') {
          // the whole search's bound, the figure the error names if none is found
          out.note(`searching for peers that hold ${cid.toString()} (giving up after ${formatDuration(event.timeout / 1000)} with none found)`)
        } else if (event.type === 'phase' && event.phase === 'writing') {
          bar.stop()
          if (process.stderr.isTTY) out.note(`all blocks fetched and verified; writing ${event.output as string}`)
        } else if (event.type === 'progress') {
          last = event
          // bytes on disk against the DAG's size (before the root is known: blocks)
          const [done, total] = event.bytesTotal > 0 ? [event.bytesDone, event.bytesTotal] : [event.blocksDone, event.blocksKnown]
          const speed = rate.add(event.bytesFetched)
          bar.update(done, total, {
            done: event.bytesTotal > 0 ? formatBytes(event.bytesDone) : `${event.blocksDone} blocks`,
            size: event.bytesTotal > 0 ? formatBytes(event.bytesTotal) : `${event.blocksKnown}`,
            rate: formatBytes(speed),
            left: event.bytesTotal > 0 && speed > 0 ? formatDuration((event.bytesTotal - event.bytesDone) / speed) : '?',
            peers: plural(event.peers, 'peer')
          })
        }
      }, interruptSignal())
      bar.stop()
      if (json) {
        out.json({
          type: 'summary',
          cid: result.cid,
          output: result.output,
          bytes: result.bytes,
          bytesFetched: result.bytesFetched,
          blocksFetched: result.blocksFetched,
          blocksAlreadyHeld: result.blocksAlreadyHeld,
          blocksShared: result.blocksShared,
          duplicateBlocks: result.duplicateBlocks,
          seconds: result.seconds,
          peers: result.peers,
          dropped: result.dropped
        })
      } else {
        const speed = result.seconds > 0 ? result.bytesFetched / result.seconds : 0
        out.note(`fetched ${formatBytes(result.bytesFetched)} from ${plural(result.peers.length, 'peer')} in ${formatDuration(result.seconds)} (${formatBytes(speed)}/s)` +
          (result.blocksAlreadyHeld > 0 ? `; ${result.blocksAlreadyHeld} block(s) were already here` : '') +
          (result.blocksShared > 0 ? `; ${result.blocksShared} block(s) came through another download of it on this peer` : ''))
        out.line(result.output)
      }
    } catch (err: any) {
      bar.stop()
      if (err?.name === 'InterruptedError' || err?.cause?.name === 'InterruptedError') {
        throw new InterruptedError(`interrupted: ${last == null ? 'nothing fetched yet' : `${bytesOf(last)} kept`}; run the same command to resume`)
      }
      if (err?.name !== 'DaemonGoneError') throw err
      if (writing != null && renamedSince(writing)) {
        // the daemon went away after the rename: the file under its name is the verified whole
        out.note(`the daemon stopped before it reported back, but ${writing.output} had been saved whole (verified before it took its name)`)
        if (json) out.json({ type: 'summary', cid: cid.toString(), output: writing.output, unreported: true })
        else out.line(writing.output)
        return
      }
      // what the daemon had written stays in the .part, with its records in the repo: the next get resumes from them
      const part = partOf(writing?.output ?? targetOf(output, inside.at(-1) ?? cid.toString()))
      const restart = `start the daemon again (shoal daemon --repo ${client.repo}) and run the same command`
      throw new DaemonGoneError(existsSync(part)
        ? `the daemon went away (connection closed) during the get: ${last == null ? 'what it had fetched' : bytesOf(last)} kept in ${part}; ${restart} to resume from it`
        : `the daemon went away (connection closed) during the get, before it had kept anything; ${restart}`)
    } finally {
      bar.stop()
    }
  }
}

/** The bytes of the DAG on disk, of its size when known. */
function bytesOf (progress: { bytesDone: number, bytesTotal: number }): string {
  return progress.bytesTotal > 0 ? `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)}` : formatBytes(progress.bytesDone)
}

/** Where the daemon writes a get to `output`: into it as `output/name` when it is a folder (see node/export-path). */
function targetOf (output: string, name: string): string {
  return statSync(output, { throwIfNoEntry: false })?.isDirectory() === true ? path.join(output, name) : output
}

/** Whether a new file has taken the name since `writing.before` was seen there. */
function renamedSince (writing: { output: string, before?: { ino: number, mtimeMs: number } }): boolean {
  const now = statSync(writing.output, { throwIfNoEntry: false })
  if (now == null || !now.isFile()) return false
  return writing.before == null || now.ino !== writing.before.ino || now.mtimeMs !== writing.before.mtimeMs
}

interface CatArgs extends GlobalArgs {
  cid: string
  timeout?: number
}

export const catCommand: CommandModule<GlobalArgs, CatArgs> = {
  command: 'cat <cid>',
  describe: 'Fetch a file by CID (or CID/path/in/a/directory) and write its bytes to stdout',
  builder: y => y
    .positional('cid', { type: 'string', demandOption: true })
    .option('timeout', { type: 'number', describe: 'seconds to wait with no reachable holder before failing' })
    .example('$0 cat bafybei… > copy.txt', '') as any,
  handler: async args => {
    const { cid, path: inside } = parseContentPath(args.cid)
    const res = await clientOf(args).stream('/v1/cat', {
      cid: [cid.toString(), ...inside].join('/'),
      providerTimeout: args.timeout == null ? undefined : args.timeout * 1000
    }, interruptSignal())
    await copyStream(res, process.stdout, { end: false }, 'output')
  }
}
