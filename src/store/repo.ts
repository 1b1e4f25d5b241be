import fs from 'node:fs/promises'
import path from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { RepoError } from '../errors.js'
import { BlockStore } from './block-store.js'
import { RESERVE_BYTES } from './constants.js'
import { loadOrCreateIdentity } from './identity.js'
import { migrateDatastore } from './migrate.js'
import { GetStore } from './get-store.js'
import { PinStore } from './pin-store.js'
import { ProvidedStore } from './provided-store.js'
import { repoPaths } from './repo-layout.js'
import { RefStore } from './refs/ref-store.js'
import { ReplicaStore } from './replica-store.js'
import { defaultLogger } from '@libp2p/logger'
import type { PrivateKey } from '@libp2p/interface'

export { repoPaths } from './repo-layout.js'

/**
 * Make a repo folder (mode 0700) and its identity; `isNew` says whether it
 * was a repo already (its config file is what marks one, written by the
 * config layer's `initRepo`).
 */
export async function makeRepoDir (root: string): Promise<{ isNew: boolean }> {
  const paths = repoPaths(root)
  await fs.mkdir(path.resolve(root), { recursive: true, mode: 0o700 })
  await fs.chmod(path.resolve(root), 0o700)
  try {
    await fs.access(paths.config)
    return { isNew: false }
  } catch {}
  await loadOrCreateIdentity(paths.identity)
  return { isNew: true }
}

/**
 * An open repo: identity, blocks, pins and the datastore that also
 * holds libp2p's peer store and the DHT's records. Only one process opens a
 * repo at a time (a lock file names its pid).
 */
export class Repo {
  readonly root: string
  readonly paths: ReturnType<typeof repoPaths>
  readonly blocks: BlockStore
  /** Opened by `open()`, after the repo is found: nothing is created in a folder that is not a repo. */
  datastore!: LevelDatastore
  pins!: PinStore
  /** Unfinished gets: resumable, kept from gc until they finish or are given up. */
  gets!: GetStore
  /** Roots this peer has told the DHT it provides. */
  provided!: ProvidedStore
  replicas!: ReplicaStore
  /** Leaves kept by reference: files added in place, downloads' outputs, replica packs. */
  refs!: RefStore
  privateKey!: PrivateKey
  private locked = false

  constructor (root: string) {
    this.root = path.resolve(root)
    this.paths = repoPaths(root)
    this.blocks = new BlockStore(this.paths.blocks)
  }

  async open (): Promise<void> {
    try {
      await fs.access(this.paths.config)
    } catch {
      throw new RepoError(`no Shoal repo at ${this.root} (create one with: shoal init --repo ${this.root})`)
    }
    await this.lock()
    try {
      this.privateKey = await loadOrCreateIdentity(this.paths.identity)
      await this.blocks.open()
      this.datastore = new LevelDatastore(this.paths.datastore)
      await this.datastore.open()
      this.pins = new PinStore(this.datastore)
      this.gets = new GetStore(this.datastore)
      this.provided = new ProvidedStore(this.datastore)
      this.replicas = new ReplicaStore(this.datastore)
      await migrateDatastore(this.datastore, this.pins, this.gets)
      this.refs = new RefStore(this.datastore, defaultLogger().forComponent('shoal:refs'))
      await this.refs.open()
      this.blocks.refs = this.refs
      await this.keepReserve()
    } catch (err) {
      await this.unlock()
      throw err
    }
  }

  /**
   * Make every datastore write so far durable on its own. After a write
   * failed for lack of space, LevelDB's log may end in a torn record, and
   * writes appended after it are lost if the process dies before the next
   * flush: LevelDB's CompactRange writes the memtable out to a table file
   * and starts a new log before anything else. The range named is past
   * every key (they all begin with '/'), so nothing more is compacted and a
   * large repo's flush costs no more than a small one's.
   */
  async flushDatastore (): Promise<void> {
    // datastore-level types its db as the browser-safe `level`; on Node it is classic-level
    await (this.datastore.db as unknown as { compactRange(start: string, end: string): Promise<void> }).compactRange('~', '~~')
  }

  /**
   * Take the repo's reserve of space (`RESERVE_BYTES`), if it is not held
   * yet; on a full disk it is taken later (whether it is held says nothing
   * of the repo's health, so a failure here is no error).
   */
  async keepReserve (): Promise<void> {
    const size = await fs.stat(this.paths.reserve).then(st => st.size, () => -1)
    if (size === RESERVE_BYTES) return
    await fs.writeFile(this.paths.reserve, new Uint8Array(RESERVE_BYTES), { mode: 0o600 }).catch(async () => {
      await fs.rm(this.paths.reserve, { force: true }).catch(() => {})
    })
  }

  /** Give the reserve back to the disk, for a write that must happen on a full one; whether there was one. */
  async releaseReserve (): Promise<boolean> {
    return await fs.rm(this.paths.reserve).then(() => true, () => false)
  }

  async close (): Promise<void> {
    await this.refs?.close().catch(() => {})
    await this.datastore?.close().catch(() => {})
    await this.blocks.close()
    await this.unlock()
  }

  private async lock (): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.writeFile(this.paths.lock, String(process.pid), { flag: 'wx', mode: 0o600 })
        this.locked = true
        return
      } catch (err: any) {
        if (err.code !== 'EEXIST') throw err
      }
      const pid = Number.parseInt(await fs.readFile(this.paths.lock, 'utf8').catch(() => ''), 10)
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new RepoError(`repo ${this.root} is in use by another Shoal daemon (pid ${pid})`)
      }
      // a stale lock left by a process that died
      await fs.rm(this.paths.lock, { force: true })
    }
    throw new RepoError(`cannot lock repo ${this.root}`)
  }

  private async unlock (): Promise<void> {
    if (this.locked) {
      await fs.rm(this.paths.lock, { force: true })
      this.locked = false
    }
  }
}

function isAlive (pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err: any) {
    return err.code === 'EPERM'
  }
}
