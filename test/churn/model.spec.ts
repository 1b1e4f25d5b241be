import assert from 'node:assert/strict'
import { Random, exponential, weibull } from '../../src/churn/model.js'
import { percentile, summarize } from '../../src/churn/stats.js'

describe('churn: models and statistics', () => {
  it('is reproducible from a seed', () => {
    const a = new Random(42)
    const b = new Random(42)
    const c = new Random(43)
    const xs = Array.from({ length: 5 }, () => a.next())
    assert.deepEqual(Array.from({ length: 5 }, () => b.next()), xs)
    assert.notDeepEqual(Array.from({ length: 5 }, () => c.next()), xs)
    assert.ok(xs.every(x => x >= 0 && x < 1))
  })

  it('draws sessions whose median is the one asked for', () => {
    const random = new Random(7)
    for (const draw of [() => exponential(random, 30), () => weibull(random, 30, 0.6), () => weibull(random, 30, 2)]) {
      const median = percentile(Array.from({ length: 20_000 }, draw), 50)!
      assert.ok(Math.abs(median - 30) < 1.5, `median ${median}`)
    }
  })

  it('a Weibull shape below 1 has a heavier tail than the exponential', () => {
    const random = new Random(9)
    const p95 = (draw: () => number): number => percentile(Array.from({ length: 20_000 }, draw), 95)!
    assert.ok(p95(() => weibull(random, 30, 0.5)) > p95(() => exponential(random, 30)))
  })

  it('summarises with interpolated percentiles', () => {
    assert.deepEqual(summarize([]), { count: 0, p50: undefined, p95: undefined, max: undefined })
    assert.deepEqual(summarize([4, 1, 3, 2]), { count: 4, p50: 2.5, p95: 3.85, max: 4 })
  })
})
