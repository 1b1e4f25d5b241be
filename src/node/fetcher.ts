import fs from 'node:fs/promises'
import { BlockNotFoundError, BlockVerificationError, isRefused } from '../errors.js'
import { OutputLayout } from './output-layout.js'
import { anySignal } from '../signals.js'
import type { AssistState, Erasure } from './erasure.js'
import type { LayoutInit } from './output-layout.js'
import type { FetchOptions, Exchange } from '../exchange/exchange.js'
import type { FetchResult } from '../exchange/session-types.js'
import type { Announcer } from '../routing/announcer.js'
import type { BlockStore } from '../store/block-store.js'
import type { RefStore } from '../store/refs/ref-store.js'
import type { Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface FetcherComponents {
  blocks: BlockStore
  refs: RefStore
  exchange: Exchange
  announcer: Announcer
  /** Rebuilds the leaves of an erasure-coded root whose data holders are gone. */
  erasure?: Pick<Erasure, 'assist' | 'rebuildOnce'>
  log?: Logger
}

/** What a fetch into an output gives: the session's figures, and what the output is. */
export interface FetchedInto {
  fetched: FetchResult
  exported: { type: 'file' | 'directory', size: number }
}

/**
 * Downloads through the exchange, for gets, reads and replicas alike: the
 * root is announced as soon as some of it is here (this peer serves what it
 * has while it downloads), and `into` writes the leaves in place into an
 * output (`OutputLayout`).
 */
export class Fetcher {
  private readonly c: FetcherComponents

  constructor (components: FetcherComponents) {
    this.c = components
  }

  /**
   * A download of a whole root. While it runs, `Erasure.assist` rebuilds
   * from parity the leaves of an erasure-coded root's data fragments that no
   * live holder keeps, and the download takes them as they are stored; one
   * that failed while leaves were rebuilt runs once more.
   */
  async fetch (cid: CID, options: FetchOptions): Promise<FetchResult> {
    const run = async (): Promise<FetchResult> => await this.c.exchange.fetch(cid, {
      ...options,
      onServable: () => {
        this.c.announcer.announce(cid)
        options.onServable?.()
      }
    })
    const erasure = this.c.erasure
    if (erasure == null || options.purpose === 'replica' || options.scope === 'block') return await run()
    const ended = new AbortController()
    const state: AssistState = { rebuilt: false, done: new Set() }
    void erasure.assist(cid, state, { signal: anySignal(ended.signal, options.signal), purpose: options.purpose })
      .catch((err: Error) => { if (!ended.signal.aborted) this.c.log?.('%s: not rebuilt from parity: %s', cid, err.message) })
    try {
      return await run()
    } catch (err) {
      // a download that gave up while leaves were being rebuilt runs again, on them; one that gave up
      // between two looks at the root's status looks once more
      await state.rebuilding?.catch(() => {})
      if (!state.rebuilt && options.signal?.aborted !== true) {
        const now = await erasure.rebuildOnce(cid, state, { signal: options.signal, purpose: options.purpose }).catch(() => 'nothing')
        if (now !== 'rebuilt') throw err
      }
      if (!state.rebuilt) throw err
      return await run()
    } finally {
      ended.abort()
    }
  }

  /**
   * Fetch `cid` with its leaves written in place under `part`, then complete
   * and sync the output. A block that rotted in the store meanwhile is
   * fetched again. On failure the output is kept to resume from, unless the
   * content was refused or nothing of it was written: then it goes, with its
   * references, and `onDiscarded` is told.
   */
  async into (cid: CID, part: string, init: LayoutInit, options: FetchOptions & { onWriting?(): void, onDiscarded?(): Promise<void> }): Promise<FetchedInto> {
    const layout = new OutputLayout(this.c.blocks, this.c.refs, cid, part, init)
    try {
      await layout.open(options)
      let fetched = await this.fetch(cid, { ...options, writer: layout })
      options.onWriting?.()
      let exported
      try {
        exported = await layout.finish(options)
      } catch (err) {
        if (!(err instanceof BlockVerificationError) && !(err instanceof BlockNotFoundError)) throw err
        // a block rotted, or a referenced file changed, since it was stored: fetch it again
        const again = await this.fetch(cid, { ...options, writer: layout })
        fetched = { ...again, seconds: fetched.seconds + again.seconds }
        exported = await layout.finish(options)
      }
      return { fetched, exported }
    } catch (err) {
      await layout.close()
      if (isRefused(err) || layout.empty) {
        // refused content, or nothing fetched: no .part is left to resume from
        await this.c.refs.forget(layout.records())
        await fs.rm(part, { recursive: true, force: true })
        await options.onDiscarded?.()
      }
      throw err
    }
  }
}
