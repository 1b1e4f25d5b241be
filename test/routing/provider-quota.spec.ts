import assert from 'node:assert/strict'
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { ProviderRecordQuota } from '../../src/routing/provider-quota.js'

const PREFIX = '/shoal/dht/provider'
const entry = (cid: string, peer: string): Key => new Key(`${PREFIX}/${cid}/${peer}`)
const value = Uint8Array.from([1])

describe('routing: ProviderRecordQuota', () => {
  it('refuses a peer\'s records past its quota and past the total, never our own; refreshes and other keys pass', async () => {
    const backing = new MemoryDatastore()
    const quota = new ProviderRecordQuota({ prefix: PREFIX, self: 'Me', perPeer: 3, total: 5 })
    const store = quota.wrap(backing)

    for (let i = 0; i < 3; i++) await store.put(entry(`c${i}`, 'PeerA'), value)
    await assert.rejects(async () => await store.put(entry('c3', 'PeerA'), value), { name: 'QuotaExceededError' })
    await store.put(entry('c0', 'PeerA'), value) // a refresh of a record already held
    for (let i = 0; i < 2; i++) await store.put(entry(`c${i}`, 'PeerB'), value)
    await assert.rejects(async () => await store.put(entry('c2', 'PeerB'), value), { name: 'QuotaExceededError' }, 'the total is reached')
    for (let i = 0; i < 10; i++) await store.put(entry(`c${i}`, 'Me'), value)
    await store.put(new Key('/peers/whatever'), value)
    assert.equal(quota.countOf('PeerA'), 3)
    assert.equal(quota.refused, 2)
    assert.equal(await backing.has(entry('c3', 'PeerA')), false)

    // an expired record deleted by the DHT frees room
    await store.delete(entry('c1', 'PeerA'))
    await store.delete(entry('c1', 'PeerA'))
    assert.equal(quota.countOf('PeerA'), 2)
    await store.put(entry('c2', 'PeerB'), value)
  })

  it('counts the records already stored when it starts', async () => {
    const backing = new MemoryDatastore()
    for (let i = 0; i < 4; i++) await backing.put(entry(`c${i}`, 'PeerA'), value)
    await backing.put(entry('c9', 'Me'), value)
    const quota = new ProviderRecordQuota({ prefix: PREFIX, self: 'Me', perPeer: 4, total: 100 })
    await quota.load(backing)
    assert.equal(quota.countOf('PeerA'), 4)
    assert.equal(quota.countOf('Me'), 0)
    await assert.rejects(async () => await quota.wrap(backing).put(entry('c5', 'PeerA'), value), { name: 'QuotaExceededError' })
  })
})
