import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

export interface Pin {
  cid: CID
  /** A name for people: the file or directory name it was added or fetched as. */
  name: string
  /** Size in bytes of the file (or of all files under a directory). */
  size: number
  type: 'file' | 'directory'
  /** ms since the epoch */
  created: number
}

interface StoredPin {
  name: string
  size: number
  type: 'file' | 'directory'
  created: number
}

const PIN_PREFIX = '/shoal/pins/'
const DOWNLOAD_PREFIX = '/shoal/downloads/'

/**
 * Pins (roots that `gc` keeps) and downloads in progress (roots whose
 * partial blocks `gc` also keeps, so an interrupted `get` resumes), in the
 * repo's datastore.
 */
export class PinStore {
  constructor (private readonly datastore: Datastore) {}

  async pin (pin: Pin, options?: AbortOptions): Promise<void> {
    const stored: StoredPin = { name: pin.name, size: pin.size, type: pin.type, created: pin.created }
    await this.datastore.put(new Key(PIN_PREFIX + pin.cid.toString()), new TextEncoder().encode(JSON.stringify(stored)), options)
  }

  async unpin (cid: CID, options?: AbortOptions): Promise<boolean> {
    const key = new Key(PIN_PREFIX + cid.toString())
    if (!(await this.datastore.has(key, options))) {
      return false
    }
    await this.datastore.delete(key, options)
    return true
  }

  async isPinned (cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.datastore.has(new Key(PIN_PREFIX + cid.toString()), options)
  }

  async * pins (options?: AbortOptions): AsyncGenerator<Pin> {
    for await (const { key, value } of this.datastore.query({ prefix: PIN_PREFIX }, options)) {
      const cid = CID.parse(key.toString().slice(PIN_PREFIX.length))
      const stored: StoredPin = JSON.parse(new TextDecoder().decode(value))
      yield { cid, ...stored }
    }
  }

  async markDownloading (cid: CID, options?: AbortOptions): Promise<void> {
    await this.datastore.put(new Key(DOWNLOAD_PREFIX + cid.toString()), new Uint8Array(0), options)
  }

  /** Forget an unfinished download; whether there was one. */
  async clearDownloading (cid: CID, options?: AbortOptions): Promise<boolean> {
    const key = new Key(DOWNLOAD_PREFIX + cid.toString())
    if (!(await this.datastore.has(key, options))) return false
    await this.datastore.delete(key, options)
    return true
  }

  async * downloads (options?: AbortOptions): AsyncGenerator<CID> {
    for await (const key of this.datastore.queryKeys({ prefix: DOWNLOAD_PREFIX }, options)) {
      yield CID.parse(key.toString().slice(DOWNLOAD_PREFIX.length))
    }
  }
}
