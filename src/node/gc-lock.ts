/**
 * Orders garbage collection against operations that store blocks: while a
 * gc runs, new operations wait for it; a gc first waits for running adds
 * (whose blocks are not pinned yet). Downloads are protected differently:
 * they register their root as in use, and gc keeps roots in use.
 */
export class GcLock {
  private collecting?: Promise<void>
  private writers = 0
  private drained?: PromiseWithResolvers<void>

  /** Resolves once no gc is running. */
  async idle (): Promise<void> {
    while (this.collecting != null) await this.collecting
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

  /** Run `fn` (a gc) alone: after running adds, before new operations. */
  async collect<T> (fn: () => Promise<T>): Promise<T> {
    await this.idle()
    const done = Promise.withResolvers<void>()
    this.collecting = done.promise
    try {
      while (this.writers > 0) {
        this.drained = Promise.withResolvers<void>()
        await this.drained.promise
      }
      return await fn()
    } finally {
      this.collecting = undefined
      done.resolve()
    }
  }
}
