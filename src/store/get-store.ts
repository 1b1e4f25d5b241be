import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/**
 * An unfinished `get`: what it fetches, where its output goes, and what it
 * had when it was last saved. It keeps the DAG it fetches from gc (the
 * user asked for it) until the get completes, or the user gives it up
 * (`shoal rm`): an interrupted get resumes from its `.part` whatever ran in
 * between.
 */
export interface GetRecord {
  /** Stable name of the download (one per output: two gets of one root to two places are two). */
  id: string
  /** What is fetched: the root, or the CID a path under it names. */
  cid: CID
  /** The root whose holders are asked (a path's root), when it is not `cid`. */
  holdersOf?: CID
  /** The path under the root, as the user wrote it (`CID/dir/file`), when there was one. */
  path?: string[]
  /** The output's final name, and where it is written until complete. */
  target: string
  part: string
  /** Pin it for the user when complete. */
  pin: boolean
  /** ms since the epoch */
  created: number
  /** Progress when last saved. */
  bytesDone: number
  bytesTotal: number
}

interface StoredRecord extends Omit<GetRecord, 'cid' | 'holdersOf'> {
  cid: string
  holdersOf?: string
}

const PREFIX = '/shoal/gets/'

/** Unfinished gets, in the repo's datastore (`/shoal/gets/<id>`). */
export class GetStore {
  constructor (private readonly datastore: Datastore) {}

  async put (record: GetRecord, options?: AbortOptions): Promise<void> {
    const stored: StoredRecord = { ...record, cid: record.cid.toString(), holdersOf: record.holdersOf?.toString() }
    await this.datastore.put(new Key(PREFIX + record.id), new TextEncoder().encode(JSON.stringify(stored)), options)
  }

  async delete (id: string, options?: AbortOptions): Promise<void> {
    await this.datastore.delete(new Key(PREFIX + id), options)
  }

  async * all (options?: AbortOptions): AsyncGenerator<GetRecord> {
    for await (const { value } of this.datastore.query({ prefix: PREFIX }, options)) {
      const stored = JSON.parse(new TextDecoder().decode(value)) as StoredRecord
      yield { ...stored, cid: CID.parse(stored.cid), holdersOf: stored.holdersOf == null ? undefined : CID.parse(stored.holdersOf) }
    }
  }

  /** The unfinished gets of `cid` (of what it fetches, or of the root it fetches a path of). */
  async of (cid: CID, options?: AbortOptions): Promise<GetRecord[]> {
    const out: GetRecord[] = []
    for await (const record of this.all(options)) {
      if (record.cid.equals(cid) || record.holdersOf?.equals(cid) === true) out.push(record)
    }
    return out
  }

  /** The unfinished get writing to `part`, if there is one. */
  async at (part: string, options?: AbortOptions): Promise<GetRecord | undefined> {
    for await (const record of this.all(options)) if (record.part === part) return record
    return undefined
  }
}
