import assert from 'node:assert/strict'
import { GcLock } from '../../src/node/gc-lock.js'

describe('node: GcLock', () => {
  it('never runs two gcs at once, and an operation starting meanwhile waits for both', async () => {
    const lock = new GcLock()
    let running = 0
    let most = 0
    const order: string[] = []
    const gc = async (name: string): Promise<void> => {
      await lock.collect(async () => {
        most = Math.max(most, ++running)
        order.push(`${name} start`)
        await new Promise(resolve => setImmediate(resolve))
        order.push(`${name} end`)
        running--
      })
    }
    const a = gc('a')
    const b = gc('b')
    // an operation arriving after both gcs were asked for
    const op = lock.idle().then(() => { order.push('op') })
    await Promise.all([a, b, op])
    assert.equal(most, 1)
    assert.deepEqual(order, ['a start', 'a end', 'b start', 'b end', 'op'])
  })

  it('a gc waits for a running add, and an add waits for a running gc', async () => {
    const lock = new GcLock()
    const order: string[] = []
    const release = Promise.withResolvers<void>()
    const add = lock.writing(async () => { order.push('add start'); await release.promise; order.push('add end') })
    const gc = lock.collect(async () => { order.push('gc') })
    const later = lock.writing(async () => { order.push('second add') })
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(order, ['add start'])
    release.resolve()
    await Promise.all([add, gc, later])
    assert.deepEqual(order, ['add start', 'add end', 'gc', 'second add'])
  })
})
