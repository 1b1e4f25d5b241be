import fs from 'node:fs/promises'
import { Key } from 'interface-datastore'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { CID } from 'multiformats/cid'

/**
 * What a referenced file is: `ok` (its leaves are served from it),
 * `modified` (its size or time changed, or a leaf read from it failed
 * verification) or `missing` (it is gone). Only `ok` files are read.
 */
export type RefState = 'ok' | 'modified' | 'missing'

/** A file outside the block store that holds leaves (the user's, or a pack Shoal owns). */
export interface RefFile {
  id: string
  path: string
  /** Roots whose leaves it holds: it is kept while any of them is. */
  roots: string[]
  /** Shoal's own (a replica's pack): deleted when no root keeps it. A user's file never is. */
  owned: boolean
  /** False while a download is still writing it: its size and time are not checked then. */
  complete: boolean
  size: number
  mtimeMs: number
  state: RefState
}

const FILE_PREFIX = '/shoal/refs/file/'

const STATE_RANK: Record<RefState, number> = { ok: 0, modified: 1, missing: 2 }

/**
 * The records of referenced files: in the datastore (`/shoal/refs/file/<id>`)
 * and, since there are few, all in memory.
 */
export class RefFiles {
  private readonly datastore: Datastore
  private readonly files = new Map<string, RefFile>()

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  async open (options?: AbortOptions): Promise<void> {
    for await (const { value } of this.datastore.query({ prefix: FILE_PREFIX }, options)) {
      const file = JSON.parse(new TextDecoder().decode(value)) as RefFile
      this.files.set(file.id, file)
    }
  }

  list (): RefFile[] {
    return [...this.files.values()]
  }

  get (id: string): RefFile | undefined {
    return this.files.get(id)
  }

  has (id: string): boolean {
    return this.files.has(id)
  }

  /** The files holding a root's leaves. */
  of (root: CID | string): RefFile[] {
    const key = root.toString()
    return this.list().filter(f => f.roots.includes(key))
  }

  /** The worst state of the files holding a root's leaves; undefined when none does. */
  rootState (root: CID | string): RefState | undefined {
    let worst: RefState | undefined
    for (const file of this.of(root)) {
      if (worst == null || STATE_RANK[file.state] > STATE_RANK[worst]) worst = file.state
    }
    return worst
  }

  /** The record of the file at `path`, if there is one. */
  atPath (path: string): RefFile | undefined {
    return this.list().find(f => f.path === path)
  }

  /** A new record. */
  create (path: string, init: { owned: boolean, roots?: CID[] }): RefFile {
    return { id: crypto.randomUUID(), path, roots: (init.roots ?? []).map(r => r.toString()), owned: init.owned, complete: false, size: 0, mtimeMs: 0, state: 'ok' }
  }

  /** Record the file's size and time now (every leaf is in it): changes are seen from these. */
  async stamp (file: RefFile): Promise<void> {
    const st = await fs.stat(file.path)
    file.size = st.size
    file.mtimeMs = st.mtimeMs
    file.complete = true
  }

  async save (file: RefFile): Promise<void> {
    this.files.set(file.id, file)
    await this.datastore.put(new Key(FILE_PREFIX + file.id), new TextEncoder().encode(JSON.stringify(file)))
  }

  async delete (file: RefFile, options?: AbortOptions): Promise<void> {
    this.files.delete(file.id)
    await this.datastore.delete(new Key(FILE_PREFIX + file.id), options)
  }
}
