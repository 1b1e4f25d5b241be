import assert from 'node:assert/strict'
import { TokenBucket } from '../../src/exchange/token-bucket.js'
import { parseRate } from '../../src/config/units.js'

describe('exchange: token bucket', () => {
  it('is unlimited at rate 0', async () => {
    const b = new TokenBucket(0)
    const t = performance.now()
    for (let i = 0; i < 1000; i++) await b.take(1 << 20)
    assert.ok(performance.now() - t < 200)
  })

  it('paces takers to the rate after the burst', async () => {
    const b = new TokenBucket(4_000_000)
    const t = performance.now()
    for (let i = 0; i < 30; i++) await b.take(100_000) // 3 MB: a 1.1 MB burst, then ≈ 0.47 s
    const elapsed = performance.now() - t
    assert.ok(elapsed >= 400 && elapsed < 1500, `took ${elapsed} ms`)
  })

  it('parses rates with units', () => {
    assert.equal(parseRate('10MB'), 10_000_000)
    assert.equal(parseRate('512KiB/s'), 512 * 1024)
    assert.equal(parseRate('2.5m'), 2_500_000)
    assert.equal(parseRate('0'), 0)
    assert.throws(() => parseRate('fast'), { name: 'ConfigError' })
    assert.throws(() => parseRate('10 parsecs'), { name: 'ConfigError' })
  })
})
