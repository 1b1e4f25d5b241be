/**
 * Orders garbage collection against operations that store blocks: while a
 * gc is running or queued, new operations wait for it; a gc first waits for
 * running adds (whose blocks are not pinned yet). Downloads and reads are
 * protected differently: they take a lease on their root before they write
 * (`Leases.take` waits for a gc under way), gc keeps leased roots, and the
 * block store spares whatever is written while a gc runs (`BlockStore.sweep`).
 * Two gcs never run at once.
 */
export class GcLock {
  private writers = 0
  private drained?: PromiseWithResolvers<void>
  private gcsPending = 0
  private gcsDone?: PromiseWithResolvers<void>
  private gcChain: Promise<unknown> = Promise.resolve()

  /** Resolves once no gc is running or queued. */
  async idle (): Promise<void> {
    while (this.gcsPending > 0) {
      this.gcsDone ??= Promise.withResolvers<void>()
      await this.gcsDone.promise
    }
  }

  /** Run `fn` (an add) with no gc running, and keep any gc from starting until it ends. */
  async writing<T> (fn: () => Promise<T>): Promise<T> {
    await this.idle()
    this.writers++
    try {
      return await fn()
    } finally {
      if (--this.writers === 0) this.drained?.resolve()
    }
  }

  /** Run `fn` (a gc) alone: after running adds and earlier gcs, before new operations. */
  async collect<T> (fn: () => Promise<T>): Promise<T> {
    // counted at once, so an operation starting from now on waits for this gc
    this.gcsPending++
    const run = this.gcChain.then(async () => {
      while (this.writers > 0) {
        this.drained = Promise.withResolvers<void>()
        await this.drained.promise
      }
      return await fn()
    })
    this.gcChain = run.catch(() => {})
    try {
      return await run
    } finally {
      if (--this.gcsPending === 0) {
        this.gcsDone?.resolve()
        this.gcsDone = undefined
      }
    }
  }
}
