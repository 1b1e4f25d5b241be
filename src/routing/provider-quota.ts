import { defaultLogger } from '@libp2p/logger'
import { QuotaExceededError } from '../errors.js'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'
import type { Datastore, Key } from 'interface-datastore'

export interface ProviderQuotaInit {
  /** The node's logger (by default one of its own). */
  logger?: ComponentLogger
  /** Where kad-dht keeps provider records: `<datastorePrefix>/provider`. */
  prefix: string
  /** Our own peer ID: our own records are never limited. */
  self: string
  /** Records kept for any one other peer. */
  perPeer: number
  /** Records kept for all other peers together. */
  total: number
}

/**
 * Bounds the DHT provider records other peers can make us store. kad-dht
 * accepts every ADD_PROVIDER a peer sends about itself and writes one
 * datastore entry per CID, with no limit: a peer announcing millions of
 * random CIDs would fill the disk. This wraps the datastore given to libp2p,
 * counts provider entries per peer, and refuses a new entry past the quota
 * (kad-dht then fails that request; refreshing an entry we hold is allowed).
 * Entries leave the count when kad-dht deletes them (expiry, 48 h).
 */
export class ProviderRecordQuota {
  private readonly init: ProviderQuotaInit
  private readonly counts = new Map<string, number>()
  private readonly pending = new Set<string>()
  private total = 0
  /** Entries refused since start, for `shoal stat`-style reporting and tests. */
  refused = 0

  private readonly log: Logger

  constructor (init: ProviderQuotaInit) {
    this.init = init
    this.log = (init.logger ?? defaultLogger()).forComponent('shoal:provider-quota')
  }

  /** Count the entries already stored (at start, before libp2p runs). */
  async load (datastore: Datastore, options?: AbortOptions): Promise<void> {
    for await (const key of datastore.queryKeys({ prefix: this.init.prefix }, options)) {
      const peer = this.providerOf(key)
      if (peer != null && peer !== this.init.self) this.add(peer, 1)
    }
  }

  /** The same datastore, with provider entries of other peers under quota. */
  wrap (datastore: Datastore): Datastore {
    const put = async (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> => await this.put(datastore, key, value, options)
    const del = async (key: Key, options?: AbortOptions): Promise<void> => { await this.delete(datastore, key, options) }
    return new Proxy(datastore, {
      get (target, prop) {
        if (prop === 'put') return put
        if (prop === 'delete') return del
        const value = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
  }

  /** Entries kept for `peer` (for tests and diagnostics). */
  countOf (peer: string): number {
    return this.counts.get(peer) ?? 0
  }

  private async put (store: Datastore, key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const peer = this.providerOf(key)
    const name = key.toString()
    if (peer == null || peer === this.init.self || this.pending.has(name)) {
      return await store.put(key, value, options)
    }
    this.pending.add(name)
    try {
      if (await store.has(key, options)) {
        // a refresh of an entry already counted
        return await store.put(key, value, options)
      }
      if (this.countOf(peer) >= this.init.perPeer || this.total >= this.init.total) {
        if (this.refused++ % 1000 === 0) this.log('provider records of %s over quota (%d kept, %d in all); refusing', peer, this.countOf(peer), this.total)
        throw new QuotaExceededError(`provider records of ${peer} over quota`)
      }
      this.add(peer, 1)
      try {
        return await store.put(key, value, options)
      } catch (err) {
        this.add(peer, -1)
        throw err
      }
    } finally {
      this.pending.delete(name)
    }
  }

  private async delete (store: Datastore, key: Key, options?: AbortOptions): Promise<void> {
    const peer = this.providerOf(key)
    const name = key.toString()
    if (peer == null || peer === this.init.self || this.pending.has(name)) {
      await store.delete(key, options)
      return
    }
    this.pending.add(name)
    try {
      const had = await store.has(key, options)
      await store.delete(key, options)
      if (had) this.add(peer, -1)
    } finally {
      this.pending.delete(name)
    }
  }

  /** `<prefix>/<multihash>/<peer id>` → the peer ID; anything else → undefined. */
  private providerOf (key: Key): string | undefined {
    const name = key.toString()
    if (!name.startsWith(this.init.prefix + '/')) return undefined
    const parts = name.slice(this.init.prefix.length + 1).split('/')
    return parts.length === 2 && parts[1] !== '' ? parts[1] : undefined
  }

  private add (peer: string, n: number): void {
    const count = this.countOf(peer) + n
    if (count <= 0) this.counts.delete(peer)
    else this.counts.set(peer, count)
    this.total += n
  }
}
