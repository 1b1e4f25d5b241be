import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { exporter } from 'ipfs-unixfs-exporter'
import { readFileContent } from '../content/file-reader.js'
import { InputError, NotAFileError } from '../errors.js'
import type { BlockStore } from '../store/block-store.js'
import type { CID } from 'multiformats/cid'

export interface ExportOptions {
  /** Replace an existing output. */
  force?: boolean
  signal?: AbortSignal
}

export interface ExportResult {
  type: 'file' | 'directory'
  size: number
}

/**
 * Write the file or directory under `cid` (every block already in the
 * store) to `target` (from `resolveOutput`). It is written under a
 * temporary name beside the target and renamed only when complete, so a
 * partial output never carries the final name; a file of the same name is
 * replaced only with `force`, a directory never. Directory entry names that
 * could escape the output folder are refused.
 */
export async function exportPath (blocks: BlockStore, cid: CID, target: string, options: ExportOptions = {}): Promise<ExportResult> {
  const exists = await checkTarget(target, options)
  const dir = path.dirname(target)
  const tmp = path.join(dir, `.${path.basename(target)}.shoal-${process.pid}-${Date.now().toString(36)}.part`)
  try {
    const result = await writeEntry(blocks, cid, tmp, path.basename(target), options.signal)
    // a file is replaced atomically by the rename; a directory cannot take a file's place that way
    if (exists && result.type === 'directory') await fsp.rm(target, { force: true })
    await checkTarget(target, options)
    await fsp.rename(tmp, target)
    return result
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => {})
    throw err
  }
}

/**
 * Where `get CID -o OUTPUT` writes: into OUTPUT when it is an existing
 * directory (as `cp` and `ipfs get -o` do: OUTPUT/CID), else OUTPUT itself.
 * Checks that the target can be written, so a `get` fails before it
 * downloads anything: its folder exists and is writable, it is not a
 * directory (Shoal never replaces one), and it does not exist unless
 * `force`.
 */
export async function resolveOutput (output: string, cid: CID, options: { force?: boolean } = {}): Promise<string> {
  const abs = path.resolve(output)
  const isDir = await fsp.stat(abs).then(st => st.isDirectory(), () => false)
  const target = isDir ? path.join(abs, cid.toString()) : abs
  await checkTarget(target, options)
  return target
}

/** Whether `target` exists; throws unless it may be written (see resolveOutput). */
async function checkTarget (target: string, options: { force?: boolean }): Promise<boolean> {
  const st = await fsp.lstat(target).catch(() => undefined)
  if (st?.isDirectory() === true) {
    throw new InputError(`${target} is a directory; Shoal never replaces a directory (remove it yourself or choose another -o)`)
  }
  if (st != null && options.force !== true) {
    throw new InputError(`${target} already exists (use --force to replace it)`)
  }
  const dir = path.dirname(target)
  const dirStat = await fsp.stat(dir).catch(() => undefined)
  if (dirStat == null) throw new InputError(`folder ${dir} does not exist`)
  if (!dirStat.isDirectory()) throw new InputError(`${dir} is not a folder`)
  await fsp.access(dir, fs.constants.W_OK).catch((err: any) => {
    throw new InputError(`cannot write to folder ${dir}: ${err.code === 'EACCES' ? 'permission denied' : err.code}`)
  })
  return st != null
}

async function writeEntry (blocks: BlockStore, cid: CID, dest: string, name: string, signal?: AbortSignal): Promise<ExportResult> {
  const store = blocks.exporterStore()
  const entry = await exporter(cid, store, { signal })
  if (entry.type === 'file' && entry.unixfs.type !== 'file' && entry.unixfs.type !== 'raw') {
    // a symbolic link (or metadata node) from the network could point anywhere: never written
    throw new InputError(`refusing a UnixFS ${entry.unixfs.type} in shared content: ${JSON.stringify(name)} (${cid.toString()})`)
  }
  if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    await writeFile(readFileContent(cid, async c => (await blocks.get(c, { signal })).bytes, { signal }), dest, signal)
    return { type: 'file', size: Number(entry.size) }
  }
  if (entry.type !== 'directory') {
    throw new NotAFileError(`${cid.toString()} is not a UnixFS file or directory`)
  }
  await fsp.mkdir(dest)
  let size = 0
  for await (const child of entry.entries({ signal })) {
    checkEntryName(child.name)
    const r = await writeEntry(blocks, child.cid, path.join(dest, child.name), child.name, signal)
    size += r.size
  }
  return { type: 'directory', size }
}

async function writeFile (content: AsyncIterable<Uint8Array>, dest: string, signal?: AbortSignal): Promise<void> {
  const out = fs.createWriteStream(dest, { flags: 'wx', mode: 0o644 })
  await pipeline(content, out, { signal })
  // the data is on disk before the rename makes it visible under its name
  const fd = await fsp.open(dest, 'r+')
  try {
    await fd.sync()
  } finally {
    await fd.close()
  }
}

/** A directory entry name from the network must be one plain path component. */
export function checkEntryName (name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw new InputError(`refusing unsafe name in shared directory: ${JSON.stringify(name)}`)
  }
}
