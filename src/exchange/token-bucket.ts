import { sleep } from '../signals.js'

/** A quarter of a second's worth may pass at once (but always at least one large block). */
const BURST_SECONDS = 0.25
const MIN_BURST = 1024 * 1024 + 64 * 1024

/**
 * A token bucket for bandwidth limits: `take(n)` resolves once `n` bytes may
 * pass at `rate` bytes per second. Takers are served in order; a rate of 0
 * means unlimited. A take larger than the burst waits for what it lacks.
 */
export class TokenBucket {
  private tokens: number
  private last = performance.now()
  private queue: Promise<void> = Promise.resolve()

  constructor (readonly rate: number, readonly burst = Math.max(rate * BURST_SECONDS, MIN_BURST)) {
    this.tokens = burst
  }

  get unlimited (): boolean {
    return this.rate <= 0
  }

  async take (n: number, signal?: AbortSignal): Promise<void> {
    if (this.unlimited) return
    const turn = this.queue.then(async () => { await this.wait(n, signal) })
    this.queue = turn.catch(() => {})
    await turn
  }

  /** Take `n` at once if the bucket holds them (true), else take nothing (false): a rate to keep, not to wait for. */
  tryTake (n: number): boolean {
    if (this.unlimited) return true
    this.refill()
    if (this.tokens < n) return false
    this.tokens -= n
    return true
  }

  /** Return `n` bytes taken and not used (a send that did not happen, a block smaller than paid for). */
  give (n: number): void {
    if (this.unlimited || n <= 0) return
    this.refill()
    this.tokens = Math.min(this.burst, this.tokens + n)
  }

  private async wait (n: number, signal?: AbortSignal): Promise<void> {
    this.refill()
    // a request larger than the burst borrows: it waits for what it lacks
    while (this.tokens < Math.min(n, this.burst)) {
      const ms = Math.ceil((Math.min(n, this.burst) - this.tokens) / this.rate * 1000)
      await sleep(ms, signal)
      this.refill()
    }
    this.tokens -= n
  }

  private refill (): void {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + (now - this.last) / 1000 * this.rate)
    this.last = now
  }
}
