import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** This peer's promise to keep a copy of a root, and what it knows of the other copies. */
export interface ReplicaRecord {
  root: CID
  /** Replication factor wanted (K): copies the swarm keeps alive. */
  min: number
  /** Copies above this are trimmed. */
  max: number
  /** When min and max were set (ms since the epoch): the newest intent spreads to every holder. */
  intentSince?: number
  /** Bytes of every block of the DAG. */
  size: number
  /** `fetching` until every block is here and pinned. */
  state: 'fetching' | 'complete'
  /** Other holders last known (PeerId strings); probed after a restart. */
  holders: string[]
  /** ms since the epoch */
  created: number
  /** An erasure-coded root: K data and M parity fragments per stripe, and its layout block (a CID). */
  erasure?: { k: number, m: number, layout: string }
  /** With `erasure`: the fragment this peer keeps (0 … K + M − 1). */
  fragment?: number
  /** A parity fragment's column root (from the layout, once read): kept with the record. */
  column?: string
  /** With `erasure`: the fragment each of `holders` keeps, as far as we know. */
  holderFragments?: Record<string, number>
}

type StoredRecord = Omit<ReplicaRecord, 'root'>

const PREFIX = '/shoal/replicas/'

/**
 * Replica records in the repo's datastore: the intent "keep K copies of
 * this root" lives with every holder, so it survives the loss of any one.
 */
export class ReplicaStore {
  constructor (private readonly datastore: Datastore) {}

  async put (record: ReplicaRecord, options?: AbortOptions): Promise<void> {
    const { root, ...stored } = record
    await this.datastore.put(new Key(PREFIX + root.toString()), new TextEncoder().encode(JSON.stringify(stored)), options)
  }

  async get (root: CID, options?: AbortOptions): Promise<ReplicaRecord | undefined> {
    try {
      const bytes = await this.datastore.get(new Key(PREFIX + root.toString()), options)
      return { root, ...(JSON.parse(new TextDecoder().decode(bytes)) as StoredRecord) }
    } catch (err: any) {
      if (err.name === 'NotFoundError') return undefined
      throw err
    }
  }

  async delete (root: CID, options?: AbortOptions): Promise<void> {
    await this.datastore.delete(new Key(PREFIX + root.toString()), options)
  }

  async * all (options?: AbortOptions): AsyncGenerator<ReplicaRecord> {
    for await (const { key, value } of this.datastore.query({ prefix: PREFIX }, options)) {
      const root = CID.parse(key.toString().slice(PREFIX.length))
      yield { root, ...(JSON.parse(new TextDecoder().decode(value)) as StoredRecord) }
    }
  }
}
