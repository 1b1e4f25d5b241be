import assert from 'node:assert/strict'
import { describeFigures, measure, startCollection } from '../helpers/collection-run.js'
import { useDaemons } from '../helpers/cli.js'

const ROOTS = Number(process.env.SHOAL_COLLECTION_ROOTS ?? 5_000)

describe('cli: a replicated collection larger than one replica message', function () {
  this.timeout(300_000)
  const scope = useDaemons()

  it(`three daemons keep ${ROOTS} roots at K = 3 round after round: no violation, no ban, no repair`, async () => {
    const run = await startCollection(scope, { peers: 3, count: ROOTS, checkInterval: 1_000 })
    const figures = await measure(run, 10)
    console.log(`      seeded in ${run.seedSeconds.toFixed(1)} s, every root ok ${run.settleSeconds.toFixed(1)} s after start, rounds quiet after ${run.quietSeconds.toFixed(1)} s\n${describeFigures(figures).replace(/^/gm, '      ')}`)
    for (const f of figures) {
      assert.equal(f.violations, 0, describeFigures(figures))
      assert.equal(f.bans, 0)
      assert.equal(f.repairs, 0)
      assert.equal(f.health.ok, ROOTS)
      // once the first syncs are done a round is a small request per pair, whatever the number of roots
      assert.ok(f.bytesSentPerRound < 4_096, `${f.bytesSentPerRound} bytes sent per round`)
    }
    assert.ok(Number.isFinite(run.quietSeconds), 'the rounds settled to no entries')
  })
})
