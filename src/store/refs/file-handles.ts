import { fstatSync } from 'node:fs'
import fs from 'node:fs/promises'
import { LOCAL_FILE_SYSTEMS, REF_HANDLES } from '../constants.js'
import type { FileIdentity } from './verified-leaves.js'

interface Handle {
  handle: Promise<fs.FileHandle>
  /** Whether the file is on a local file system (LOCAL_FILE_SYSTEMS), where its stat can be trusted and is cheap. */
  local: Promise<boolean>
  users: number
  /** Set when the file moved or changed: the next read opens it afresh. */
  closing: boolean
}

/**
 * Open read handles on referenced files, by file id: opened once, shared by
 * the reads under way, the least recently used idle ones closed past
 * `REF_HANDLES`. An open that failed is never kept: the next read tries the
 * path again (a file moved away comes back).
 */
export class FileHandles {
  private readonly handles = new Map<string, Handle>()

  /** Read `length` bytes at `offset` of the file `id` at `path`; a short read is an error (`ESHORT`). */
  async read (id: string, path: string, offset: number, length: number): Promise<Uint8Array> {
    return (await this.readChecked(id, path, offset, length)).bytes
  }

  /**
   * `read`, and for a file on a local file system its identity (of the open
   * handle: the inode read from) just before the read and just after it,
   * and when the first was taken.
   */
  async readChecked (id: string, path: string, offset: number, length: number): Promise<{ bytes: Uint8Array, identity?: { before: FileIdentity, after: FileIdentity, statAt: number } }> {
    const entry = this.acquire(id, path)
    try {
      const handle = await entry.handle
      // an fstat of an open file on a local file system answers from the inode in memory: a few µs,
      // cheaper done at once than through the thread pool (60 ms of a seeder's main thread per 256 MiB)
      const local = await entry.local
      const statAt = Date.now()
      const before = local ? identityOf(fstatSync(handle.fd)) : undefined
      // every byte is read into it (a short read is an error): no need to zero it first
      const bytes = Buffer.allocUnsafe(length)
      const { bytesRead } = await handle.read(bytes, 0, length, offset)
      if (bytesRead !== length) throw Object.assign(new Error(`short read (${bytesRead} of ${length} bytes)`), { code: 'ESHORT' })
      return { bytes, identity: before == null ? undefined : { before, after: identityOf(fstatSync(handle.fd)), statAt } }
    } finally {
      entry.users--
      this.trim()
    }
  }

  /** Stop using the handle on a file (it moved, changed or went): closed once idle. */
  close (id: string): void {
    const entry = this.handles.get(id)
    if (entry == null) return
    entry.closing = true
    this.trim()
  }

  async closeAll (): Promise<void> {
    const handles = [...this.handles.values()]
    this.handles.clear()
    await Promise.all(handles.map(async h => { await h.handle.then(async fh => { await fh.close() }, () => {}) }))
  }

  private acquire (id: string, path: string): Handle {
    let entry = this.handles.get(id)
    if (entry == null || entry.closing) {
      const handle = fs.open(path, 'r')
      // a file whose file system cannot be told is not trusted (its every read is hashed), not failed
      const local = handle.then(async () => LOCAL_FILE_SYSTEMS.has(Number((await fs.statfs(path)).type))).catch(() => false)
      const opened: Handle = { handle, local, users: 0, closing: false }
      // a failed open is forgotten at once: whoever reads next opens the path again
      opened.handle.catch(() => {
        opened.closing = true
        if (this.handles.get(id) === opened) this.handles.delete(id)
      })
      entry = opened
    } else {
      this.handles.delete(id)
    }
    // most recently used goes last
    this.handles.set(id, entry)
    entry.users++
    return entry
  }

  /** Close idle handles beyond the limit, and those marked to close. */
  private trim (): void {
    let excess = this.handles.size - REF_HANDLES
    for (const [id, entry] of this.handles) {
      if (entry.users > 0) continue
      if (!entry.closing && excess <= 0) continue
      this.handles.delete(id)
      excess--
      void entry.handle.then(async h => { await h.close() }, () => {})
    }
  }
}

function identityOf (st: { ino: number, size: number, mtimeMs: number, ctimeMs: number }): FileIdentity {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs }
}
