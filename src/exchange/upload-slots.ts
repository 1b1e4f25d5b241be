/**
 * A counting semaphore with a FIFO queue: bounds how many blocks are being
 * read and sent at once, and serves waiting peers in arrival order.
 */
export class UploadSlots {
  private free: number
  private readonly waiting: Array<() => void> = []

  constructor (readonly size: number) {
    this.free = size
  }

  async acquire (signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.free > 0) {
      this.free--
      return this.releaser()
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => {
        const i = this.waiting.indexOf(grant)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(grant)
    })
    return this.releaser()
  }

  get inUse (): number {
    return this.size - this.free
  }

  private releaser (): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.waiting.shift()
      if (next != null) {
        next()
      } else {
        this.free++
      }
    }
  }
}
