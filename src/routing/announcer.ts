import type { ContentDiscovery } from './content-discovery.js'
import type { ProvidedStore } from '../store/provided-store.js'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface AnnouncerInit {
  /** Longest a single provide may take (ms). */
  provideTimeout?: number
  /** First and longest wait before retrying a failed provide (ms). */
  retryMin?: number
  retryMax?: number
  /** Provides run at once. */
  concurrency?: number
}

export interface AnnouncerComponents {
  discovery: ContentDiscovery
  logger: ComponentLogger
  /** Where the roots provided are remembered across restarts (none: this run only). */
  store?: ProvidedStore
}

/**
 * Announces the roots this peer holds. A provide that fails (no peers yet,
 * network down) is retried with exponential backoff until it succeeds or the
 * root is withdrawn. Periodic re-providing before records expire is done by
 * the DHT's own reprovider, which keeps our records in the datastore across
 * restarts; the daemon also announces every pin when it starts. Every root
 * announced is remembered (`ProvidedStore`) until it is withdrawn, so gc can
 * withdraw one provided before a restart that is no longer kept.
 */
export class Announcer implements Startable {
  private readonly discovery: ContentDiscovery
  private readonly c: AnnouncerComponents
  private readonly log: Logger
  private readonly provideTimeout: number
  private readonly retryMin: number
  private readonly retryMax: number
  private readonly concurrency: number
  private readonly queue = new Map<string, { cid: CID, attempt: number }>()
  private readonly retryTimers = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly announced = new Set<string>()
  private readonly rootsByKey = new Map<string, CID>()
  /** The last change of the provided store under way, by root. */
  private readonly storing = new Map<string, Promise<void>>()
  private running = 0
  private controller = new AbortController()
  private started = false

  constructor (components: AnnouncerComponents, init: AnnouncerInit = {}) {
    this.discovery = components.discovery
    this.c = components
    this.log = components.logger.forComponent('shoal:announcer')
    this.provideTimeout = init.provideTimeout ?? 120_000
    this.retryMin = init.retryMin ?? 2_000
    this.retryMax = init.retryMax ?? 300_000
    this.concurrency = init.concurrency ?? 4
  }

  start (): void {
    this.controller = new AbortController()
    this.started = true
    this.pump()
  }

  stop (): void {
    this.started = false
    this.controller.abort()
    for (const timer of this.retryTimers.values()) clearTimeout(timer)
    this.retryTimers.clear()
  }

  /** Announce `cid` as soon as possible (again, if it was announced before). */
  announce (cid: CID): void {
    const key = cid.toString()
    clearTimeout(this.retryTimers.get(key))
    this.retryTimers.delete(key)
    if (!this.rootsByKey.has(key)) this.remember(cid)
    this.rootsByKey.set(key, cid)
    this.queue.set(key, { cid, attempt: 0 })
    this.pump()
  }

  /** Stop announcing `cid`: no retries, and the DHT no longer renews our record. */
  withdraw (cid: CID): void {
    const key = cid.toString()
    this.queue.delete(key)
    clearTimeout(this.retryTimers.get(key))
    this.retryTimers.delete(key)
    this.announced.delete(key)
    this.rootsByKey.delete(key)
    this.discovery.withdraw(cid).catch(err => {
      this.log('withdrawing %s failed: %s', key, err.message)
    })
    this.stored(cid, async store => { await store.delete(cid) })
  }

  /** Roots announced (or being announced) since the daemon started. */
  roots (): CID[] {
    return [...this.rootsByKey.values()]
  }

  /** Roots provided and not withdrawn: in this run, or in an earlier one. */
  async provided (): Promise<CID[]> {
    await Promise.all(this.storing.values())
    const roots = new Map(this.rootsByKey)
    if (this.c.store != null) for await (const cid of this.c.store.all()) roots.set(cid.toString(), cid)
    return [...roots.values()]
  }

  private remember (cid: CID): void {
    this.stored(cid, async store => { await store.add(cid) })
  }

  /** Change what the store says of `cid`, after the changes of it under way (a withdraw right after an announce lands last). */
  private stored (cid: CID, change: (store: ProvidedStore) => Promise<void>): void {
    const store = this.c.store
    if (store == null) return
    const key = cid.toString()
    const next = (this.storing.get(key) ?? Promise.resolve()).then(async () => { await change(store) })
      .catch(err => { this.log('remembering whether %s is provided failed: %s', key, err.message) })
    this.storing.set(key, next)
    void next.finally(() => { if (this.storing.get(key) === next) this.storing.delete(key) })
  }

  /** Whether the last provide of `cid` succeeded. */
  isAnnounced (cid: CID): boolean {
    return this.announced.has(cid.toString())
  }

  private pump (): void {
    while (this.started && this.running < this.concurrency && this.queue.size > 0) {
      const [key, job] = this.queue.entries().next().value!
      this.queue.delete(key)
      this.running++
      void this.provide(key, job).finally(() => {
        this.running--
        this.pump()
      })
    }
  }

  private async provide (key: string, job: { cid: CID, attempt: number }): Promise<void> {
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.provideTimeout)])
    try {
      await this.discovery.provide(job.cid, { signal })
      if (!this.rootsByKey.has(key)) {
        // withdrawn while the provide ran: undo the record it made
        await this.discovery.withdraw(job.cid).catch(() => {})
        return
      }
      this.announced.add(key)
      this.log('announced %s', key)
    } catch (err: any) {
      if (!this.started || !this.rootsByKey.has(key)) return
      const wait = Math.min(this.retryMax, this.retryMin * 2 ** job.attempt)
      this.log('announcing %s failed (%s); retrying in %dms', key, err.message, wait)
      this.retryTimers.set(key, setTimeout(() => {
        this.retryTimers.delete(key)
        this.queue.set(key, { cid: job.cid, attempt: job.attempt + 1 })
        this.pump()
      }, wait))
    }
  }
}
