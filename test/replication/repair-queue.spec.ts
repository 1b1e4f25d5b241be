import assert from 'node:assert/strict'
import { defaultLogger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { DagLimitError, NoProvidersError } from '../../src/errors.js'
import { RepairQueue } from '../../src/replication/repair-queue.js'

const rootOf = async (n: number): Promise<CID> => CID.createV1(0x55, await sha256.digest(Uint8Array.of(n)))

describe('replication: the repair queue', () => {
  it('says each failed download, retries one that may yet succeed, and gives up one whose content is refused', async () => {
    const [plain, bomb] = [await rootOf(1), await rootOf(2)]
    const attempts = new Map<string, number>()
    const failures: Array<{ root: string, error: string, retryIn?: number }> = []
    const refused = Promise.withResolvers<void>()
    const queue = new RepairQueue(async root => {
      attempts.set(root.toString(), (attempts.get(root.toString()) ?? 0) + 1)
      throw root.equals(bomb) ? new DagLimitError('too many blocks: refused') : new NoProvidersError('no holder answered')
    }, 2, defaultLogger().forComponent('test'), (root, err, retryIn) => {
      failures.push({ root: root.toString(), error: err.message, retryIn })
      if (retryIn == null) refused.resolve()
    })
    queue.enqueue(plain)
    queue.enqueue(bomb)
    await refused.promise
    assert.equal(queue.has(bomb), false, 'a refused root leaves the queue')
    assert.equal(queue.has(plain), true, 'the other waits for its retry')
    assert.deepEqual(failures.find(f => f.root === bomb.toString()), { root: bomb.toString(), error: 'too many blocks: refused', retryIn: undefined })
    assert.equal(failures.find(f => f.root === plain.toString())?.retryIn, 5_000)
    queue.stop()
    assert.equal(attempts.get(bomb.toString()), 1)
  })
})
