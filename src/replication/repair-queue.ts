import { isRefused } from '../errors.js'
import type { Logger } from '@libp2p/interface'
import { AbortError } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const FIRST_RETRY = 5_000
const MAX_RETRY = 300_000

interface Job {
  root: CID
  controller: AbortController
  retry?: ReturnType<typeof setTimeout>
  attempt: number
  /** The download running now, if one is. */
  running?: Promise<void>
}

/** A replica download failed: retried in `retryIn` ms, or given up (its content is refused: no retry could fetch it). */
export type RepairFailure = (root: CID, err: Error, retryIn?: number) => void

/**
 * Downloads of replicas this peer accepted: at most `concurrency` at once,
 * each retried with exponential backoff until it succeeds or is cancelled
 * (a root whose every holder is gone keeps waiting for one to return). A
 * root whose content is refused (`isRefused`: past the bounds of a DAG,
 * malformed, not a file or directory) is not retried; `failed` says each
 * failure.
 */
export class RepairQueue {
  private readonly jobs = new Map<string, Job>()
  private readonly waiting: Job[] = []
  private running = 0
  private stopped = false

  constructor (
    private readonly run: (root: CID, signal: AbortSignal) => Promise<void>,
    private readonly concurrency: number,
    private readonly log: Logger,
    private readonly failed?: RepairFailure
  ) {}

  get active (): number {
    return this.running
  }

  has (root: CID): boolean {
    return this.jobs.has(root.toString())
  }

  enqueue (root: CID): void {
    if (this.stopped || this.jobs.has(root.toString())) return
    const job: Job = { root, controller: new AbortController(), attempt: 0 }
    this.jobs.set(root.toString(), job)
    this.waiting.push(job)
    this.next()
  }

  /** Stop the download of `root`; resolves once a download running now has ended (so nothing of it lands after). */
  async cancel (root: CID): Promise<void> {
    const job = this.jobs.get(root.toString())
    if (job == null) return
    this.jobs.delete(root.toString())
    clearTimeout(job.retry)
    job.controller.abort(new AbortError('replica released'))
    const i = this.waiting.indexOf(job)
    if (i >= 0) this.waiting.splice(i, 1)
    await job.running
  }

  stop (): void {
    this.stopped = true
    for (const root of [...this.jobs.values()].map(j => j.root)) void this.cancel(root)
  }

  private next (): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const job = this.waiting.shift()!
      this.running++
      const key = job.root.toString()
      job.running = this.run(job.root, job.controller.signal).then(() => {
        if (this.jobs.get(key) === job) this.jobs.delete(key)
      }, err => {
        if (job.controller.signal.aborted || this.stopped) return
        if (isRefused(err)) {
          if (this.jobs.get(key) === job) this.jobs.delete(key)
          this.log('replica download of %s refused (%s): not retried', job.root, err.message)
          this.failed?.(job.root, err)
          return
        }
        const delay = Math.min(MAX_RETRY, FIRST_RETRY * 2 ** job.attempt++)
        this.log('replica download of %s failed (%s); retrying in %d s', job.root, err.message, delay / 1000)
        this.failed?.(job.root, err, delay)
        job.retry = setTimeout(() => {
          if (this.jobs.get(job.root.toString()) !== job) return
          this.waiting.push(job)
          this.next()
        }, delay)
      }).finally(() => {
        job.running = undefined
        this.running--
        this.next()
      })
    }
  }
}
