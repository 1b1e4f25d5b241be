import { createCipheriv, createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { sha256File } from '../content/file-hash.js'
import { sleep } from '../signals.js'
import type { Random } from './model.js'
import type { TrackedFile } from './observer.js'
import type { PeerProcess } from './peer-process.js'
import type { FetchRecord } from './run-report.js'

/** Pause of a fetch loop between two fetches (ms). */
const FETCH_PAUSE = 250
const FETCH_PROVIDER_TIMEOUT = 30_000

export type ChurnFile = TrackedFile & { path: string, sha256: string }

/** `count` files of `size` bytes under `dir`, the same bytes for the same seed (an AES-CTR keystream). */
export async function makeFiles (dir: string, count: number, size: number, seed: number): Promise<ChurnFile[]> {
  await fs.mkdir(dir, { recursive: true })
  const files: ChurnFile[] = []
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `file-${i}.bin`)
    const key = createHash('sha256').update(`shoal-churn:${seed}:${i}`).digest()
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
    const handle = await fs.open(file, 'w')
    const piece = Buffer.alloc(1024 * 1024)
    for (let done = 0; done < size; done += piece.length) {
      await handle.write(cipher.update(piece.subarray(0, Math.min(piece.length, size - done))))
    }
    await handle.close()
    files.push({ cid: '', size, path: file, sha256: await sha256File(file) })
  }
  return files
}

export interface FetchWorkloadComponents {
  /** Where fetched copies go (each is checked, then deleted). */
  outDir(): string
  random: Random
  signal: AbortSignal
  log(line: string): void
  /** Seconds since the churn began. */
  now(): number
  livePeers(): PeerProcess[]
}

/**
 * The churn run's users: fetch loops that get a random file through a
 * random live peer, check every byte against the file's hash, and gc the
 * copy again. Each fetch is recorded (ok, failed, corrupt, or interrupted
 * because the harness stopped that peer meanwhile).
 */
export class FetchWorkload {
  readonly records: FetchRecord[] = []
  private readonly c: FetchWorkloadComponents

  constructor (components: FetchWorkloadComponents) {
    this.c = components
  }

  /** Fetch until `end` (seconds since the churn began). */
  async loop (files: ChurnFile[], end: number): Promise<void> {
    while (this.c.now() < end && !this.c.signal.aborted) {
      const up = this.c.livePeers()
      if (up.length > 0) await this.once(this.c.random.pick(files), this.c.random.pick(up))
      await sleep(FETCH_PAUSE, this.c.signal).catch(() => {})
    }
  }

  /** Fetch a file through one peer, check its bytes, and drop the copy again (gc). */
  async once (file: ChurnFile, peer: PeerProcess): Promise<void> {
    const outDir = this.c.outDir()
    await fs.mkdir(outDir, { recursive: true })
    const output = path.join(outDir, `${peer.name}-${Date.now()}-${this.c.random.int(1e9)}`)
    const t = this.c.now()
    const started = performance.now()
    const record: FetchRecord = { t, cid: file.cid, peer: peer.name, outcome: 'ok', seconds: 0 }
    try {
      await peer.client.events('/v1/get', { cid: file.cid, output, pin: false, force: true, providerTimeout: FETCH_PROVIDER_TIMEOUT }, () => {}, this.c.signal)
      record.seconds = (performance.now() - started) / 1000
      if (await sha256File(output) !== file.sha256) {
        record.outcome = 'corrupt'
        this.c.log(`CORRUPT read of ${file.cid} through ${peer.name}`)
      }
      await peer.client.json('POST', '/v1/gc', undefined, this.c.signal).catch(() => {})
    } catch (err: any) {
      record.seconds = (performance.now() - started) / 1000
      // the harness stopped this peer while it was fetching: not the swarm's failure
      record.outcome = peer.isUp ? 'failed' : 'interrupted'
      record.error = err.message
      if (record.outcome === 'failed') this.c.log(`fetch of ${file.cid} through ${peer.name} failed: ${err.message}`)
      // the user gives the get up: its .part and record go (a restarted peer's, at its next fetch of it)
      if (peer.isUp) await peer.client.json('POST', '/v1/rm', { cid: file.cid, downloadsOnly: true }, this.c.signal).catch(() => {})
    } finally {
      await fs.rm(output, { force: true })
    }
    this.records.push(record)
  }
}
