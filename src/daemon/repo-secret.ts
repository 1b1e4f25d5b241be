import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'

/** A secret read from the repo, and why a fresh one took the old one's place (if it did). */
export interface RepoSecret {
  value: string
  /** Set when the file held a secret too weak to keep (or none): why it was replaced. */
  replaced?: string
}

export interface SecretKind {
  /** A fresh secret, as the file holds it. */
  make(): string
  /** Why `text` (the file's contents, trimmed) cannot be used, or undefined when it can. */
  problem(text: string): string | undefined
}

/**
 * A secret kept in a file of the repo (mode 0600): made at the first start
 * that needs it; one found empty, short or malformed (a crash between the
 * file's creation and its write, a hand edit) is never used: a fresh one
 * replaces it, and `replaced` says why so the daemon can log it.
 */
export async function openSecret (file: string, kind: SecretKind): Promise<RepoSecret> {
  let text: string
  try {
    text = (await fs.readFile(file, 'utf8')).trim()
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
    const value = kind.make()
    await writeSecret(file, value)
    return { value }
  }
  const problem = kind.problem(text)
  if (problem == null) return { value: text }
  const value = kind.make()
  await writeSecret(file, value)
  return { value, replaced: problem }
}

/** Put `value` in `file` whole (a new file, mode 0600, renamed over the old one). */
export async function writeSecret (file: string, value: string): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await fs.writeFile(temp, value + '\n', { mode: 0o600, flag: 'wx' })
    await fs.rename(temp, file)
  } catch (err) {
    await fs.rm(temp, { force: true })
    throw err
  }
}
