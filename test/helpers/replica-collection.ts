import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { initRepo } from '../../src/config/file.js'
import { verifyBlock } from '../../src/content/verify.js'
import { readPeerId } from '../../src/store/identity.js'
import { Repo, repoPaths } from '../../src/store/repo.js'

const RAW = 0x55

/** The root of the `i`th file of a seeded collection: a small file, one raw block. */
export async function collectionFile (i: number): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(`collection file ${i}\n`)
  return { cid: CID.createV1(RAW, await sha256.digest(bytes)), bytes }
}

/** Make repos (as `shoal init` does) and answer their peer ids. */
export async function initRepos (repos: string[]): Promise<string[]> {
  return await Promise.all(repos.map(async repo => {
    await initRepo(repo)
    return await readPeerId(repoPaths(repo).identity)
  }))
}

/**
 * A collection of `count` small files already replicated on every repo
 * (K = repos.length): each repo holds every file whole, pinned as a
 * replica, with a replica record naming the other repos as holders. That
 * is what a group of peers keeps once `add --replicas K` of each file has
 * settled, written straight into the repos (the daemons must not be
 * running): placing 10 000 files through the control API takes minutes,
 * and what is measured is the group that keeps them. Returns the roots.
 */
export async function seedCollection (repos: string[], peerIds: string[], count: number, from = 0): Promise<CID[]> {
  const files = await Promise.all(Array.from({ length: count }, async (_, i) => await collectionFile(from + i)))
  const k = repos.length
  const now = Date.now()
  for (const [r, path] of repos.entries()) {
    const repo = new Repo(path)
    await repo.open()
    try {
      const holders = peerIds.filter((_, j) => j !== r)
      for (const { cid, bytes } of files) {
        await repo.blocks.put(verifyBlock(cid, bytes))
        await repo.pins.pin({ cid, name: cid.toString(), size: bytes.byteLength, type: 'file', created: now }, 'replica')
        await repo.replicas.put({ root: cid, min: k, max: k, intentSince: now, size: bytes.byteLength, state: 'complete', holders, created: now })
      }
    } finally {
      await repo.close()
    }
  }
  return files.map(f => f.cid)
}
