import fsp from 'node:fs/promises'
import path from 'node:path'
import { InputError } from '../errors.js'
import { checkTarget } from './export-path.js'
import type { RefFile, RefStore } from '../store/refs/ref-store.js'
import type { CID } from 'multiformats/cid'

/** Where a download is written until it is complete: beside its output, as `OUTPUT.part`. */
export function partOf (target: string): string {
  return `${target}.part`
}

/** The records of an unfinished download's files under `part`. */
export function recordsUnder (refs: RefStore, part: string): RefFile[] {
  return refs.list().filter(f => !f.complete && (f.path === part || f.path.startsWith(part + path.sep)))
}

/**
 * Whether a download of `root` may write to `part`: it is free, or it is
 * what an interrupted download of the same root left (the get resumes from
 * it). Anything else there is replaced only with `force`, and a directory
 * only when it is Shoal's own (`owned`, in the repo).
 */
export async function checkPart (part: string, root: CID, refs: RefStore, options: { force?: boolean, owned?: boolean } = {}): Promise<void> {
  const st = await fsp.lstat(part).catch(() => undefined)
  if (st == null) return
  if (recordsUnder(refs, part).some(f => f.roots.includes(root.toString()))) return
  if (options.force !== true) {
    throw new InputError(`${part} exists and is not an unfinished download of ${root.toString()} (remove it, or use --force to replace it)`)
  }
  if (st.isDirectory() && options.owned !== true) {
    throw new InputError(`${part} is a directory; Shoal never replaces a directory (remove it yourself or choose another -o)`)
  }
  await fsp.rm(part, { recursive: true, force: true })
}

/**
 * Give a complete, synced download its final name: `part` is renamed to
 * `target` (a file is replaced atomically, and only with `force`; a
 * directory never), and the references follow it: from now on a change to
 * the output is noticed and its leaves stop being served.
 */
export async function commitOutput (refs: RefStore, part: string, target: string, type: 'file' | 'directory', options: { force?: boolean } = {}): Promise<void> {
  const exists = await checkTarget(target, options)
  const records = recordsUnder(refs, part)
  // what the rename replaces: records of files at the target, which no longer hold what they did
  const replaced = refs.list().filter(f => !records.includes(f) && (f.path === target || f.path.startsWith(target + path.sep)))
  // a directory cannot take a file's place by a rename
  if (exists && type === 'directory') await fsp.rm(target, { force: true })
  await refs.relocate(records, async () => { await fsp.rename(part, target) }, record => target + record.path.slice(part.length))
  for (const record of records) await refs.completed(record)
  const roots = new Set(records.flatMap(r => r.roots))
  for (const old of replaced) {
    // the same content written again (`get --force` onto its own output): the new record holds it;
    // any other root it held is no longer in that file
    if (old.roots.every(r => roots.has(r))) await refs.forget([old])
    else await refs.setState(old, 'missing', `replaced by a get into ${target}`)
  }
}
