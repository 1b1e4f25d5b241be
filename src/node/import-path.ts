import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import { pipe } from 'it-pipe'
import { importerOptions } from '../content/profile.js'
import { InputError } from '../errors.js'
import { referencingImporter } from './ref-importer.js'
import type { BlockStore } from '../store/block-store.js'
import type { RefFile } from '../store/refs/ref-store.js'
import type { ImportCandidate } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'

/** Bytes read from an input file at a time (the size of a default chunk). */
const READ_SIZE = 1024 * 1024

export interface ImportOptions {
  recursive?: boolean
  /** Add what symbolic links inside a directory point to (files and folders, loops refused); by default they are skipped and named. */
  followSymlinks?: boolean
  chunkSize?: number
  /** Keep a private copy of every leaf in the block store, instead of referring to the file where it is. */
  copy?: boolean
  signal?: AbortSignal
  /** Called with the number of input bytes read so far. */
  onProgress?(bytesRead: number, bytesTotal: number): void
}

export interface ImportResult {
  cid: CID
  name: string
  size: number
  type: 'file' | 'directory'
  /** Entries of a directory that were not added (symbolic links unless followed, sockets, devices), with why. */
  skipped: Array<{ path: string, reason: string }>
}

/**
 * Import a file, or with `recursive` a directory tree, into the block store
 * as a UnixFS DAG. Streams the input: memory does not grow with file size.
 * Symbolic links inside a directory are skipped (and named in `skipped`)
 * unless `followSymlinks`; a link that leads back into a folder being added
 * is refused, so a loop cannot make the import endless.
 */
export async function importPath (blocks: BlockStore, input: string, options: ImportOptions = {}): Promise<ImportResult> {
  const abs = path.resolve(input)
  let st: fs.Stats
  try {
    st = await fsp.stat(abs)
  } catch (err: any) {
    throw new InputError(err.code === 'ENOENT' ? `no such file or directory: ${input}` : `cannot read ${input}: ${err.code ?? err.message}`)
  }
  const name = path.basename(abs)
  if (st.isDirectory() && options.recursive !== true) {
    throw new InputError(`${input} is a directory (use -r to add a directory)`)
  }
  if (!st.isDirectory() && !st.isFile()) {
    throw new InputError(`${input} is not a regular file or directory`)
  }
  await fsp.access(abs, fs.constants.R_OK).catch((err: any) => {
    throw new InputError(`cannot read ${input}: ${err.code}`)
  })

  let total = 0
  let read = 0
  const onBytes = (n: number): void => {
    read += n
    options.onProgress?.(read, total)
  }

  const store = blocks.importerStore()
  // by default a leaf stays where it is in the input: the repo records where
  const sources = new Map<string, string>()
  const records = new Map<string, Promise<RefFile>>()
  const refs = options.copy === true ? undefined : blocks.refs
  const opts = {
    ...importerOptions(options.chunkSize),
    signal: options.signal,
    ...(refs == null ? {} : { bufferImporter: referencingImporter(refs, p => sources.get(p) ?? abs, records) })
  }
  let result: ImportResult
  if (st.isFile()) {
    total = st.size
    const entries = importer([{ content: readFile(abs, onBytes, options.signal) }], store, opts)
    let root: CID | undefined
    for await (const entry of entries) root = entry.cid
    if (root == null) throw new InputError(`nothing imported from ${input}`)
    result = { cid: root, name, size: st.size, type: 'file', skipped: [] }
  } else {
    const { entries: files, skipped } = await listTree(abs, name, options.followSymlinks === true)
    total = files.reduce((n, f) => n + f.size, 0)
    for (const f of files) sources.set(f.rel, f.abs)
    const candidates: ImportCandidate[] = files.map(f => f.dir
      ? { path: f.rel }
      : { path: f.rel, content: readFile(f.abs, onBytes, options.signal) })
    let root: CID | undefined
    for await (const entry of importer(candidates, store, opts)) {
      if (entry.path === name) root = entry.cid
    }
    if (root == null) throw new InputError(`nothing imported from ${input}`)
    result = { cid: root, name, size: total, type: 'directory', skipped }
  }
  // the files' sizes and times, from which a later change is noticed, and the root they serve
  for (const record of records.values()) {
    const file = await record
    await refs!.completed(file)
    await refs!.addRoot(file, result.cid)
  }
  return result
}

interface TreeEntry { abs: string, rel: string, size: number, dir: boolean }

/**
 * Every file and directory under `root`, depth first, as paths starting
 * with `name`, and what was left out. With `follow`, symbolic links are
 * followed (a link to a folder already on the way down is refused).
 */
async function listTree (root: string, name: string, follow: boolean): Promise<{ entries: TreeEntry[], skipped: ImportResult['skipped'] }> {
  const entries: TreeEntry[] = [{ abs: root, rel: name, size: 0, dir: true }]
  const skipped: ImportResult['skipped'] = []
  const walk = async (dir: string, rel: string, above: Set<string>): Promise<void> => {
    const list = await fsp.readdir(dir, { withFileTypes: true })
    list.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    for (const e of list) {
      const abs = path.join(dir, e.name)
      const r = `${rel}/${e.name}`
      let st: fs.Stats | undefined
      if (e.isSymbolicLink()) {
        if (!follow) {
          skipped.push({ path: r, reason: 'symbolic link' })
          continue
        }
        st = await fsp.stat(abs).catch(() => undefined)
        if (st == null) {
          skipped.push({ path: r, reason: 'symbolic link to nothing' })
          continue
        }
      }
      const isDir = st?.isDirectory() ?? e.isDirectory()
      const isFile = st?.isFile() ?? e.isFile()
      if (isDir) {
        const real = await fsp.realpath(abs)
        if (above.has(real)) throw new InputError(`${r} leads back into a folder being added (a symbolic link loop)`)
        entries.push({ abs, rel: r, size: 0, dir: true })
        await walk(abs, r, new Set([...above, real]))
      } else if (isFile) {
        entries.push({ abs, rel: r, size: (st ?? await fsp.stat(abs)).size, dir: false })
      } else {
        skipped.push({ path: r, reason: 'not a regular file' })
      }
    }
  }
  await walk(root, name, new Set([await fsp.realpath(root)]))
  return { entries, skipped }
}

/** A file's bytes in reads of up to `READ_SIZE`, each counted as it passes. */
function readFile (file: string, onBytes: (n: number) => void, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  return pipe(fs.createReadStream(file, { highWaterMark: READ_SIZE, signal }), counted(onBytes))
}

function counted (onBytes: (n: number) => void): (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array> {
  return async function * (source) {
    for await (const chunk of source) {
      onBytes(chunk.byteLength)
      yield chunk
    }
  }
}
