import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

const PREFIX = '/shoal/provided/'

/**
 * The roots this peer has told the DHT it provides, kept across restarts:
 * the DHT renews the records it holds for us until told otherwise, so a root
 * provided before a restart and dropped after it must be withdrawn by name.
 */
export class ProvidedStore {
  constructor (private readonly datastore: Datastore) {}

  async add (cid: CID, options?: AbortOptions): Promise<void> {
    await this.datastore.put(new Key(PREFIX + cid.toString()), new Uint8Array(0), options)
  }

  async delete (cid: CID, options?: AbortOptions): Promise<void> {
    await this.datastore.delete(new Key(PREFIX + cid.toString()), options)
  }

  async * all (options?: AbortOptions): AsyncGenerator<CID> {
    for await (const key of this.datastore.queryKeys({ prefix: PREFIX }, options)) {
      yield CID.parse(key.toString().slice(PREFIX.length))
    }
  }
}
