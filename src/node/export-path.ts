import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { InputError } from '../errors.js'
import type { CID } from 'multiformats/cid'

/**
 * Where `get CID -o OUTPUT` writes: into OUTPUT when it is an existing
 * directory (as `cp` and `ipfs get -o` do: OUTPUT/CID), else OUTPUT itself.
 * Checks that the target can be written, so a `get` fails before it
 * downloads anything: its folder exists and is writable, it is not a
 * directory (Shoal never replaces one), and it does not exist unless
 * `force`.
 */
export async function resolveOutput (output: string, cid: CID, options: { force?: boolean, name?: string } = {}): Promise<string> {
  const abs = path.resolve(output)
  const isDir = await fsp.stat(abs).then(st => st.isDirectory(), () => false)
  const target = isDir ? path.join(abs, options.name ?? cid.toString()) : abs
  await checkTarget(target, options)
  return target
}

/** Whether `target` exists; throws unless it may be written (see resolveOutput). */
export async function checkTarget (target: string, options: { force?: boolean }): Promise<boolean> {
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

/** A directory entry name from the network must be one plain path component. */
export function checkEntryName (name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\') || name.includes('\0')) {
    throw new InputError(`refusing unsafe name in shared directory: ${JSON.stringify(name)}`)
  }
}
