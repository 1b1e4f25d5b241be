import { DiskFullError, isDiskFull } from '../errors.js'

/** A download that failed for lack of space, in its output or in the repo, as a DiskFullError saying what became of it. */
export function outputFull (err: unknown, part: string, target: string, repoRoot: string): unknown {
  if (!isDiskFull(err)) return err
  const where = (err as { path?: unknown }).path
  if (typeof where === 'string' && where.startsWith(part)) {
    return new DiskFullError(`no space left to write ${target}: what was fetched so far is kept in ${part}; free space and run the get again to resume`)
  }
  return repoFull(err, repoRoot, 'the blocks fetched so far are kept: run the get again to resume')
}

/** A write to the repo that failed for lack of space, as a DiskFullError saying what became of it. */
export function repoFull (err: unknown, repoRoot: string, outcome: string): unknown {
  if (!isDiskFull(err)) return err
  return new DiskFullError(`the repo's disk is full (${repoRoot}): ${outcome}; free space or run \`shoal gc\``)
}
