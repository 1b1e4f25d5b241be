import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import type { PinStore } from './pin-store.js'
import type { Datastore } from 'interface-datastore'

/** The layout of the datastore; bumped when a migration below is added. */
const DATASTORE_VERSION = 2

const VERSION_KEY = new Key('/shoal/version')
const LEGACY_DOWNLOAD_PREFIX = '/shoal/downloads/'
const REPLICA_PREFIX = '/shoal/replicas/'

/**
 * Bring a repo's datastore written by an older Shoal up to date. Version 2:
 * pins have reasons. Download markers become `download` reasons, and a
 * replica record's pin becomes a `replica` reason (the user's, if the pin
 * was not the replica's). Nothing is deleted that a pin still needs.
 */
export async function migrateDatastore (datastore: Datastore, pins: PinStore): Promise<void> {
  const version = await Promise.resolve(datastore.get(VERSION_KEY)).then(v => Number(new TextDecoder().decode(v)), () => 1)
  if (version >= DATASTORE_VERSION) return
  for await (const key of datastore.queryKeys({ prefix: LEGACY_DOWNLOAD_PREFIX })) {
    await pins.markDownloading(CID.parse(key.toString().slice(LEGACY_DOWNLOAD_PREFIX.length)))
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
  await datastore.put(VERSION_KEY, new TextEncoder().encode(String(DATASTORE_VERSION)))
}
