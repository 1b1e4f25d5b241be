import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import type { AbortOptions } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/**
 * Why a root is kept, for good: `user`, added or fetched by the user;
 * `replica`, this peer is one of the root's K holders. A pinned root is here
 * whole. What an unfinished download keeps is its own record (`GetStore`),
 * and what an operation keeps while it runs, a lease (`Leases`).
 */
export type PinReason = 'user' | 'replica'

const PIN_REASONS: readonly PinReason[] = ['user', 'replica']

/** What a pin says about its root, for people. */
export interface PinInfo {
  cid: CID
  /** The file or directory name it was added or fetched as. */
  name: string
  /** Size in bytes of the file (or of all files under a directory); 0 while unknown. */
  size: number
  type: 'file' | 'directory'
  /** ms since the epoch */
  created: number
}

export interface Pin extends PinInfo {
  /** Every reason it is kept; the pin goes when the last one does. */
  reasons: PinReason[]
}

interface StoredPin {
  name: string
  size: number
  type: 'file' | 'directory'
  created: number
  /** Absent in repos written before pins had reasons: those pins were the user's. */
  reasons?: string[]
}

const PIN_PREFIX = '/shoal/pins/'

/**
 * Pins in the repo's datastore: the roots `gc` keeps, each with the reasons
 * it is kept for. A root stays pinned while any reason holds, so one part of
 * the daemon (a replica being trimmed, a download finishing) never takes
 * away a pin another part, or the user, made.
 */
export class PinStore {
  constructor (private readonly datastore: Datastore) {}

  /** Add `reason` to the root's pin (creating it); `info` fills in what the pin does not know yet. */
  async pin (info: PinInfo, reason: PinReason, options?: AbortOptions): Promise<void> {
    const existing = await this.read(info.cid, options)
    const reasons = new Set(existing?.reasons ?? [])
    reasons.add(reason)
    const stored: StoredPin = {
      // the user's name beats a placeholder; a known size beats an unknown one
      name: existing == null || reason === 'user' ? info.name : existing.name,
      size: existing == null || existing.size === 0 ? info.size : existing.size,
      type: existing?.type ?? info.type,
      created: existing?.created ?? info.created,
      reasons: PIN_REASONS.filter(r => reasons.has(r))
    }
    await this.write(info.cid, stored, options)
  }

  /**
   * Take `reasons` away from the root's pin (every reason when none are
   * named); the pin goes when none is left. Returns the reasons taken away.
   */
  async unpin (cid: CID, reasons: readonly PinReason[] = PIN_REASONS, options?: AbortOptions): Promise<PinReason[]> {
    const existing = await this.read(cid, options)
    if (existing == null) return []
    const removed = existing.reasons.filter(r => reasons.includes(r))
    if (removed.length === 0) return []
    const left = existing.reasons.filter(r => !reasons.includes(r))
    if (left.length === 0) await this.datastore.delete(pinKey(cid), options)
    else await this.write(cid, { ...existing, reasons: left }, options)
    return removed
  }

  async get (cid: CID, options?: AbortOptions): Promise<Pin | undefined> {
    const stored = await this.read(cid, options)
    return stored == null ? undefined : { cid, ...stored }
  }

  /** Whether the root is pinned for any reason. */
  async isPinned (cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.datastore.has(pinKey(cid), options)
  }

  /** Whether the whole DAG is here: a root is pinned only once every block of it is. */
  async isComplete (cid: CID, options?: AbortOptions): Promise<boolean> {
    return await this.isPinned(cid, options)
  }

  async * pins (options?: AbortOptions): AsyncGenerator<Pin> {
    for await (const { key, value } of this.datastore.query({ prefix: PIN_PREFIX }, options)) {
      const cid = CID.parse(key.toString().slice(PIN_PREFIX.length))
      yield { cid, ...parse(value) }
    }
  }

  private async read (cid: CID, options?: AbortOptions): Promise<Omit<Pin, 'cid'> | undefined> {
    try {
      return parse(await this.datastore.get(pinKey(cid), options))
    } catch (err: any) {
      if (err.name === 'NotFoundError') return undefined
      throw err
    }
  }

  private async write (cid: CID, stored: StoredPin, options?: AbortOptions): Promise<void> {
    await this.datastore.put(pinKey(cid), new TextEncoder().encode(JSON.stringify(stored)), options)
  }
}

function pinKey (cid: CID): Key {
  return new Key(PIN_PREFIX + cid.toString())
}

function parse (value: Uint8Array): Omit<Pin, 'cid'> {
  const stored: StoredPin = JSON.parse(new TextDecoder().decode(value))
  const reasons = (stored.reasons ?? ['user']).filter((r): r is PinReason => (PIN_REASONS as readonly string[]).includes(r))
  return { name: stored.name, size: stored.size, type: stored.type, created: stored.created, reasons }
}
