import { DISK_HEADROOM, DISK_HEADROOM_SHARE } from './constants.js'

export interface AdmissionComponents {
  /** Bytes stored now. */
  usedStorage(): Promise<number>
  /** Bytes free on the store's file system, and its size. */
  diskSpace(): Promise<{ free: number, total: number }>
  /**
   * Bytes promised to replicas still downloading: the full size of each
   * (what part of them is stored is also in `usedStorage`, so this errs on
   * the side of declining). Derived from the replica records, so a restart
   * or a finished download can never leave it wrong.
   */
  reserved(): number
}

export interface AdmissionInit {
  /** Bytes this peer may store (0: unlimited). */
  maxStorage: number
}

export type Verdict = { accept: true } | { accept: false, reason: string }

/**
 * Whether a replica of `size` bytes fits: within the storage limit with
 * everything stored and promised, and never into the last
 * min(DISK_HEADROOM, DISK_HEADROOM_SHARE of the disk) whatever the limit.
 */
export class Admission {
  constructor (private readonly c: AdmissionComponents, private readonly init: AdmissionInit) {}

  async judge (size: number): Promise<Verdict> {
    const reserved = this.c.reserved()
    if (this.init.maxStorage > 0) {
      const used = await this.c.usedStorage()
      if (used + reserved + size > this.init.maxStorage) {
        return { accept: false, reason: 'storage full' }
      }
    }
    const { free, total } = await this.c.diskSpace()
    if (reserved + size > free - Math.min(DISK_HEADROOM, total * DISK_HEADROOM_SHARE)) {
      return { accept: false, reason: 'disk full' }
    }
    return { accept: true }
  }
}
