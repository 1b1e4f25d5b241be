import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { Announcer } from '../../src/routing/announcer.js'
import type { ContentDiscovery } from '../../src/routing/content-discovery.js'

/** A discovery that fails the first `failures` provides, and records every call. */
function fakeDiscovery (failures: number): ContentDiscovery & { provided: string[], withdrawn: string[], next: Promise<void> } {
  let resolveNext: () => void = () => {}
  const fake = {
    provided: [] as string[],
    withdrawn: [] as string[],
    next: new Promise<void>(resolve => { resolveNext = resolve }),
    async * findProviders () {},
    async provide (cid: CID) {
      fake.provided.push(cid.toString())
      const done = resolveNext
      fake.next = new Promise<void>(resolve => { resolveNext = resolve })
      done()
      if (fake.provided.length <= failures) throw new Error('no peers yet')
    },
    async withdraw (cid: CID) { fake.withdrawn.push(cid.toString()) }
  }
  return fake
}

describe('routing: announcer', () => {
  it('retries a failed provide until it succeeds', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(new Uint8Array([1])))
    const discovery = fakeDiscovery(2)
    const announcer = new Announcer({ discovery, logger: defaultLogger() }, { retryMin: 10, retryMax: 50 })
    announcer.start()
    announcer.announce(cid)
    while (discovery.provided.length < 3) await discovery.next
    // the third attempt succeeded; let its bookkeeping run
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(announcer.isAnnounced(cid), true)
    assert.deepEqual(announcer.roots().map(String), [cid.toString()])
    announcer.stop()
  })

  it('withdrawing stops retries and tells the DHT to stop renewing the record', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(new Uint8Array([2])))
    const discovery = fakeDiscovery(1000)
    const announcer = new Announcer({ discovery, logger: defaultLogger() }, { retryMin: 5, retryMax: 5 })
    announcer.start()
    announcer.announce(cid)
    await discovery.next
    announcer.withdraw(cid)
    const attempts = discovery.provided.length
    await new Promise(resolve => setTimeout(resolve, 50)) // ten retry periods: none may happen
    assert.equal(discovery.provided.length, attempts)
    assert.deepEqual(discovery.withdrawn, [cid.toString()])
    assert.deepEqual(announcer.roots(), [])
    announcer.stop()
  })
})
