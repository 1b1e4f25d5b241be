import assert from 'node:assert/strict'
import { MemoryDatastore } from 'datastore-core'
import { LeafLocations } from '../../src/store/refs/leaf-locations.js'
import type { Datastore, Key } from 'interface-datastore'

/** Counts the reads that reach the datastore; `hold` keeps the next read from answering until released. */
function counting (): { datastore: Datastore, reads: () => number, hold: () => () => void } {
  const memory = new MemoryDatastore()
  let reads = 0
  let gate: Promise<void> | undefined
  const datastore = new Proxy(memory, {
    get (target, prop) {
      if (prop === 'get' || prop === 'has') {
        return async (key: Key) => {
          reads++
          const waitFor = gate
          gate = undefined
          // read now, answer once released: what a slow read that a write overtakes sees
          const answer = (async () => prop === 'get' ? await target.get(key) : await target.has(key))()
          answer.catch(() => {})
          await waitFor
          return await answer
        }
      }
      const value = (target as any)[prop]
      return typeof value === 'function' ? value.bind(target) : value
    }
  }) as Datastore
  return {
    datastore,
    reads: () => reads,
    hold: () => { let release!: () => void; gate = new Promise(resolve => { release = resolve }); return release }
  }
}

describe('store: leaf locations', () => {
  it('a leaf found to have none is not looked for again when it is added', async () => {
    const { datastore, reads } = counting()
    const locations = new LeafLocations(datastore)
    assert.deepEqual(await locations.get('leaf'), [])
    assert.equal(reads(), 1)
    await locations.add('leaf', ['file', 0, 10])
    assert.equal(reads(), 1, 'the add used what the read found')
    assert.deepEqual(await locations.get('leaf'), [['file', 0, 10]])
    // and the datastore has it, for a new instance
    assert.deepEqual(await new LeafLocations(datastore).get('leaf'), [['file', 0, 10]])
  })

  it('a read that an add overtakes does not replace the added list', async () => {
    const { datastore, hold } = counting()
    const locations = new LeafLocations(datastore)
    const release = hold()
    const stale = locations.get('leaf')
    await locations.add('leaf', ['file', 0, 10])
    release()
    assert.deepEqual(await stale, [])
    assert.deepEqual(await locations.get('leaf'), [['file', 0, 10]])
  })

  it('a read that a sweep overtakes does not bring back the locations it dropped', async () => {
    const { datastore, hold } = counting()
    await new LeafLocations(datastore).add('leaf', ['gone', 0, 10])
    await new LeafLocations(datastore).add('leaf', ['kept', 0, 10])
    const locations = new LeafLocations(datastore)
    const release = hold()
    const stale = locations.get('leaf')
    await locations.sweep(id => id !== 'gone')
    release()
    assert.equal((await stale).length, 2, 'the read began before the sweep')
    assert.deepEqual(await locations.get('leaf'), [['kept', 0, 10]])
  })
})
