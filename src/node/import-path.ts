import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { importer } from 'ipfs-unixfs-importer'
import { importerOptions } from '../content/profile.js'
import { InputError } from '../errors.js'
import type { BlockStore } from '../store/block-store.js'
import type { ImportCandidate } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'

export interface ImportOptions {
  recursive?: boolean
  chunkSize?: number
  signal?: AbortSignal
  /** Called with the number of input bytes read so far. */
  onProgress?(bytesRead: number, bytesTotal: number): void
}

export interface ImportResult {
  cid: CID
  name: string
  size: number
  type: 'file' | 'directory'
}

/**
 * Import a file, or with `recursive` a directory tree, into the block store
 * as a UnixFS DAG. Streams the input: memory does not grow with file size.
 * Symbolic links inside a directory are skipped, never followed.
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
  const opts = { ...importerOptions(options.chunkSize), signal: options.signal }
  if (st.isFile()) {
    total = st.size
    const entries = importer([{ content: readFile(abs, onBytes, options.signal) }], store, opts)
    let root: CID | undefined
    for await (const entry of entries) root = entry.cid
    if (root == null) throw new InputError(`nothing imported from ${input}`)
    return { cid: root, name, size: st.size, type: 'file' }
  }

  const files = await listTree(abs, name)
  total = files.reduce((n, f) => n + f.size, 0)
  const candidates: ImportCandidate[] = files.map(f => f.dir
    ? { path: f.rel }
    : { path: f.rel, content: readFile(f.abs, onBytes, options.signal) })
  let root: CID | undefined
  for await (const entry of importer(candidates, store, opts)) {
    if (entry.path === name) root = entry.cid
  }
  if (root == null) throw new InputError(`nothing imported from ${input}`)
  return { cid: root, name, size: total, type: 'directory' }
}

interface TreeEntry { abs: string, rel: string, size: number, dir: boolean }

/** Every file and directory under `root`, depth first, as paths starting with `name`. */
async function listTree (root: string, name: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [{ abs: root, rel: name, size: 0, dir: true }]
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await fsp.readdir(dir, { withFileTypes: true })
    entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    for (const e of entries) {
      const abs = path.join(dir, e.name)
      const r = `${rel}/${e.name}`
      if (e.isDirectory()) {
        out.push({ abs, rel: r, size: 0, dir: true })
        await walk(abs, r)
      } else if (e.isFile()) {
        const st = await fsp.stat(abs)
        out.push({ abs, rel: r, size: st.size, dir: false })
      }
      // symbolic links, sockets, devices: skipped
    }
  }
  await walk(root, name)
  return out
}

async function * readFile (file: string, onBytes: (n: number) => void, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const stream = fs.createReadStream(file, { highWaterMark: 1024 * 1024, signal })
  for await (const chunk of stream) {
    onBytes(chunk.byteLength)
    yield chunk
  }
}
