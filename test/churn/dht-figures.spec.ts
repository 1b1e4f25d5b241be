import assert from 'node:assert/strict'
import { bucketQuantile, dhtFigures, parseMetrics } from '../../src/churn/dht-figures.js'

const PEER = (started: number, inbound: number, table: number, findBuckets: number[]): string => `
# HELP shoal_routing_duration_seconds DHT operations
# TYPE shoal_routing_duration_seconds histogram
${[0.1, 0.5, 1].map((le, i) => `shoal_routing_duration_seconds_bucket{le="${le}",op="find",dht="shoal",outcome="ok"} ${findBuckets[i]}`).join('\n')}
shoal_routing_duration_seconds_bucket{le="+Inf",op="find",dht="shoal",outcome="ok"} ${findBuckets[2]}
shoal_routing_duration_seconds_count{op="find",dht="shoal",outcome="ok"} ${findBuckets[2]}
shoal_routing_duration_seconds_count{op="find",dht="shoal",outcome="empty"} 1
shoal_routing_duration_seconds_count{op="provide",dht="shoal",outcome="ok"} 2
shoal_routing_duration_seconds_count{op="find",dht="ipfs",outcome="ok"} 50
shoal_dht_routing_table_size ${table}
shoal_dht_inbound_rpc_requests_total{shoal_dht_inbound_rpc_requests_total="GET_PROVIDERS"} ${inbound}
process_start_time_seconds ${started}
`

describe('churn: the DHT figures from the peers\' metrics', () => {
  it('parses the text format and interpolates quantiles within buckets, as histogram_quantile does', () => {
    const samples = parseMetrics('# HELP x y\nfoo_total{a="1",b="two"} 3\nbar 4.5\n')
    assert.deepEqual(samples, [{ name: 'foo_total', labels: { a: '1', b: 'two' }, value: 3 }, { name: 'bar', labels: {}, value: 4.5 }])
    const buckets = [{ le: 0.1, count: 0 }, { le: 0.5, count: 10 }, { le: 1, count: 20 }, { le: Infinity, count: 20 }]
    assert.equal(bucketQuantile(0.5, buckets), 0.5)
    assert.ok(Math.abs(bucketQuantile(0.25, buckets)! - 0.3) < 1e-9)
    assert.equal(bucketQuantile(0.5, []), undefined)
  })

  it('adds the peers up: counts, success rate, quantiles of the merged buckets, tables, messages per peer per second', () => {
    const now = 1000
    const d = dhtFigures([parseMetrics(PEER(900, 100, 3, [0, 4, 4])), parseMetrics(PEER(950, 100, 5, [0, 0, 4]))], now)
    assert.equal(d.peers, 2)
    assert.deepEqual({ ok: d.find.ok, empty: d.find.empty, failed: d.find.failed }, { ok: 8, empty: 2, failed: 0 }, 'the IPFS DHT is left out')
    assert.equal(d.find.successRate, 0.8)
    assert.equal(d.find.p50, 0.5)
    assert.equal(d.provide.ok, 4)
    assert.equal(d.routingTable.min, 3)
    assert.equal(d.routingTable.max, 5)
    assert.equal(d.messagesPerPeerPerSecond.inbound, 1.5, '1 and 2 per second')
  })
})
