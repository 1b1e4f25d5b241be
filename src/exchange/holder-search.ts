import { REDISCOVER_ALONE, REDISCOVER_FIRST } from './constants.js'
import type { ProviderFinder } from './provider-finder.js'
import type { Logger, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface HolderSearchInit {
  root: CID
  /** Longest one provider query may run (ms). */
  queryTimeout: number
  /** Longest wait between queries while peers are fetched from (ms). */
  rediscoverInterval: number
  /** Whether the download has nobody to fetch from (then it looks again soon). */
  alone(): boolean
  /** A provider was found. */
  found(peer: PeerId): void
}

/**
 * One download's search for holders through content routing: a provider
 * query, then another, sooner while nobody serves the download and more and
 * more rarely while peers do. `wake` cuts the wait short (the last peer left).
 */
export class HolderSearch {
  private readonly finder: ProviderFinder
  private readonly log: Logger
  private readonly init: HolderSearchInit
  private wakeUp?: () => void

  constructor (finder: ProviderFinder, log: Logger, init: HolderSearchInit) {
    this.finder = finder
    this.log = log
    this.init = init
  }

  /** Search until `signal` aborts. */
  async run (signal: AbortSignal): Promise<void> {
    let round = 0
    while (!signal.aborted) {
      try {
        const query = AbortSignal.any([signal, AbortSignal.timeout(this.init.queryTimeout)])
        for await (const provider of this.finder.findProviders(this.init.root, { signal: query })) {
          if (signal.aborted) return
          this.init.found(provider.id)
        }
      } catch (err: any) {
        if (signal.aborted) return
        this.log('provider query ended: %s', err.message)
      }
      const wait = this.init.alone()
        ? REDISCOVER_ALONE
        : Math.min(this.init.rediscoverInterval, REDISCOVER_FIRST * 2 ** round++)
      await this.sleep(wait, signal)
    }
  }

  /** Look again now. */
  wake (): void {
    this.wakeUp?.()
  }

  private async sleep (ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>(resolve => {
      const t = setTimeout(wake, ms)
      const wakeUp = (): void => { wake() }
      function wake (): void {
        clearTimeout(t)
        signal.removeEventListener('abort', wakeUp)
        resolve()
      }
      this.wakeUp = wakeUp
      signal.addEventListener('abort', wakeUp, { once: true })
    })
    this.wakeUp = undefined
  }
}
