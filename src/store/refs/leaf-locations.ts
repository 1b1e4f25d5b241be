import { Key } from 'interface-datastore'
import { REF_CACHE } from '../constants.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** Where one leaf lives: [file id, offset, length]. */
export type Location = [string, number, number]

const LEAF_PREFIX = '/shoal/refs/leaf/'

/**
 * For each leaf kept by reference (by `blockKey`), where it is: a list of
 * [file, offset, length], in the datastore (`/shoal/refs/leaf/<key>`), the
 * most recently used `REF_CACHE` lists also in memory (a seeder reads the
 * same leaves again and again). Changes to one leaf's list run one after
 * another, so none is lost.
 */
export class LeafLocations {
  private readonly datastore: Datastore
  /** The last write of each leaf key under way. */
  private readonly writing = new Map<string, Promise<void>>()
  /** Lists lately read or written, least recently used first. */
  private readonly cache = new Map<string, Location[]>()
  /** Reads of the datastore under way, by leaf key: each is marked stale when a change of its list begins. */
  private readonly reading = new Map<string, Set<{ stale: boolean }>>()

  constructor (datastore: Datastore) {
    this.datastore = datastore
  }

  /** Add a location of `key` (once per file). */
  async add (key: string, location: Location): Promise<void> {
    await this.change(key, async () => {
      // most leaves added are new: looked for without the cost of a not-found error
      const cached = this.cache.get(key)
      const locations = cached != null ? [...cached] : await this.datastore.has(new Key(LEAF_PREFIX + key)) ? await this.get(key) : []
      if (locations.some(l => l[0] === location[0])) return
      locations.push(location)
      await this.datastore.put(new Key(LEAF_PREFIX + key), encode(locations))
      this.remember(key, locations)
    })
  }

  async get (key: string): Promise<Location[]> {
    const cached = this.cache.get(key)
    if (cached != null) return cached
    const read = { stale: false }
    const reads = this.reading.get(key) ?? new Set()
    reads.add(read)
    this.reading.set(key, reads)
    try {
      const locations = decode(await this.datastore.get(new Key(LEAF_PREFIX + key)))
      this.rememberRead(key, locations, read)
      return locations
    } catch (err: any) {
      if (err.name !== 'NotFoundError') throw err
      // a download asks whether it has each leaf before it adds it: remembering "none" spares the add
      // its own look in the datastore (two LevelDB reads and a thrown error per leaf were one)
      this.rememberRead(key, [], read)
      return []
    } finally {
      reads.delete(read)
      if (reads.size === 0 && this.reading.get(key) === reads) this.reading.delete(key)
    }
  }

  /** Drop every location in a file `live` no longer has (a change of a list under way is waited for). */
  async sweep (live: (fileId: string) => boolean, options?: AbortOptions): Promise<void> {
    for await (const { key, value } of this.datastore.query({ prefix: LEAF_PREFIX }, options)) {
      const locations = decode(value)
      if (locations.every(l => live(l[0]))) continue
      const leaf = key.toString().slice(LEAF_PREFIX.length)
      await this.change(leaf, async () => {
        const now = (await this.get(leaf)).filter(l => live(l[0]))
        this.cache.delete(leaf)
        if (now.length === 0) await this.datastore.delete(key, options)
        else await this.datastore.put(key, encode(now), options)
      })
    }
  }

  private async change (key: string, fn: () => Promise<void>): Promise<void> {
    // what a read under way finds may be older than what this change leaves
    for (const read of this.reading.get(key) ?? []) read.stale = true
    const write = (this.writing.get(key) ?? Promise.resolve()).catch(() => {}).then(fn)
    this.writing.set(key, write)
    try {
      await write
    } finally {
      if (this.writing.get(key) === write) this.writing.delete(key)
    }
  }

  /**
   * Remember what a read found, unless a change of the list began while it read or is still under
   * way: the list it found may be older than the one the datastore has (or will have).
   */
  private rememberRead (key: string, locations: Location[], read: { stale: boolean }): void {
    if (read.stale || this.writing.has(key) || this.cache.has(key)) return
    this.remember(key, locations)
  }

  private remember (key: string, locations: Location[]): void {
    this.cache.delete(key)
    this.cache.set(key, locations)
    if (this.cache.size > REF_CACHE) {
      const [oldest] = this.cache.keys()
      this.cache.delete(oldest)
    }
  }
}

function encode (locations: Location[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(locations))
}

function decode (bytes: Uint8Array): Location[] {
  return JSON.parse(new TextDecoder().decode(bytes)) as Location[]
}
