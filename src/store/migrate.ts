import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import type { GetStore } from './get-store.js'
import type { PinStore } from './pin-store.js'
import type { Datastore } from 'interface-datastore'

/** The layout of the datastore; bumped when a migration below is added. */
const DATASTORE_VERSION = 3

const VERSION_KEY = new Key('/shoal/version')
const LEGACY_DOWNLOAD_PREFIX = '/shoal/downloads/'
const REPLICA_PREFIX = '/shoal/replicas/'
const PIN_PREFIX = '/shoal/pins/'
const REF_FILE_PREFIX = '/shoal/refs/file/'

/**
 * Bring a repo's datastore written by an older Shoal up to date, one
 * version after the other. Nothing is deleted that a pin, a replica or an
 * unfinished download still needs.
 */
export async function migrateDatastore (datastore: Datastore, pins: PinStore, gets: GetStore): Promise<void> {
  const version = await Promise.resolve(datastore.get(VERSION_KEY)).then(v => Number(new TextDecoder().decode(v)), () => 1)
  if (version >= DATASTORE_VERSION) return
  if (version < 2) await toVersion2(datastore, pins)
  await toVersion3(datastore, gets)
  await datastore.put(VERSION_KEY, new TextEncoder().encode(String(DATASTORE_VERSION)))
}

/** Version 2: pins have reasons (download markers become `download` reasons; a replica's pin, `replica`). */
async function toVersion2 (datastore: Datastore, pins: PinStore): Promise<void> {
  for await (const key of datastore.queryKeys({ prefix: LEGACY_DOWNLOAD_PREFIX })) {
    await addReason(datastore, CID.parse(key.toString().slice(LEGACY_DOWNLOAD_PREFIX.length)), 'download')
    await datastore.delete(key)
  }
  for await (const { key, value } of datastore.query({ prefix: REPLICA_PREFIX })) {
    const root = CID.parse(key.toString().slice(REPLICA_PREFIX.length))
    const record = JSON.parse(new TextDecoder().decode(value))
    const pin = await pins.get(root)
    if (record.state !== 'complete' || pin == null) continue
    if (record.replicaPin === true) await pins.unpin(root, ['user'])
    await pins.pin(pin, 'replica')
  }
}

/**
 * Version 3: an unfinished download is no longer a pin's `download` reason
 * but a record of its own, tied to its `.part`. A get's partial output (a
 * file of the user's, not complete) becomes a get record that resumes it; a
 * replica's is kept by its replica record. The reason goes, and a pin kept
 * for nothing else with it.
 */
async function toVersion3 (datastore: Datastore, gets: GetStore): Promise<void> {
  const files: Array<{ path: string, roots: string[], owned: boolean, complete: boolean }> = []
  for await (const { value } of datastore.query({ prefix: REF_FILE_PREFIX })) files.push(JSON.parse(new TextDecoder().decode(value)))
  for await (const { key, value } of datastore.query({ prefix: PIN_PREFIX })) {
    const stored = JSON.parse(new TextDecoder().decode(value))
    const reasons: string[] = stored.reasons ?? ['user']
    if (!reasons.includes('download')) continue
    const cid = CID.parse(key.toString().slice(PIN_PREFIX.length))
    const parts = new Set<string>()
    for (const f of files) {
      if (f.owned || f.complete || !f.roots.includes(cid.toString())) continue
      const at = f.path.indexOf('.part')
      if (at > 0 && (f.path.length === at + 5 || f.path[at + 5] === '/')) parts.add(f.path.slice(0, at + 5))
    }
    for (const part of parts) {
      await gets.put({ id: crypto.randomUUID(), cid, target: part.slice(0, -5), part, pin: true, created: stored.created ?? Date.now(), bytesDone: 0, bytesTotal: 0 })
    }
    const left = reasons.filter(r => r !== 'download')
    if (left.length === 0) await datastore.delete(key)
    else await datastore.put(key, new TextEncoder().encode(JSON.stringify({ ...stored, reasons: left })))
  }
}

async function addReason (datastore: Datastore, cid: CID, reason: string): Promise<void> {
  const key = new Key(PIN_PREFIX + cid.toString())
  const stored = await Promise.resolve(datastore.get(key)).then(v => JSON.parse(new TextDecoder().decode(v)), () => undefined)
  const next = stored == null
    ? { name: cid.toString(), size: 0, type: 'file', created: Date.now(), reasons: [reason] }
    : { ...stored, reasons: [...new Set([...(stored.reasons ?? ['user']), reason])] }
  await datastore.put(key, new TextEncoder().encode(JSON.stringify(next)))
}
