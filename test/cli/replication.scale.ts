import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { describeFigures, measure, startCollection } from '../helpers/collection-run.js'
import { shoalOk, useDaemons } from '../helpers/cli.js'

const ROOTS = Number(process.env.SHOAL_COLLECTION_ROOTS ?? 10_000)
/** With SHOAL_PROFILE_DIR, each daemon writes a CPU profile there (`--cpu-prof`) when it stops at the end. */
const PROFILE_DIR = process.env.SHOAL_PROFILE_DIR

/** Seconds `shoal ARGS` takes, and its output. */
async function timed (args: string[]): Promise<{ seconds: number, stdout: string }> {
  const started = Date.now()
  const { stdout } = await shoalOk(args, { timeout: 120_000 })
  return { seconds: (Date.now() - started) / 1000, stdout }
}

/**
 * npm run test:replication-scale: three daemons keeping 10 000 replicated
 * roots at K = 3, at the default round of 5 s, watched for a minute at
 * steady state: no violation, no ban, no repair, and what a round costs.
 */
describe('scale: a replicated collection of 10 000 roots', function () {
  this.timeout(1_800_000)
  const scope = useDaemons()

  it(`three daemons keep ${ROOTS} roots at K = 3; a round costs a few requests of a few hundred bytes per peer`, async () => {
    const env: Record<string, string> = PROFILE_DIR == null ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}` }
    if (PROFILE_DIR != null) await fs.mkdir(PROFILE_DIR, { recursive: true })
    const run = await startCollection(scope, { peers: 3, count: ROOTS, checkInterval: 5_000, env, extraArgs: ['--leave-timeout', '5'], waitForAnnouncements: true })
    console.log(`      seeded in ${run.seedSeconds.toFixed(1)} s; every root ok ${run.settleSeconds.toFixed(1)} s after start, rounds quiet after ${run.quietSeconds.toFixed(1)} s, DHT announcements over after ${run.announcedSeconds.toFixed(0)} s`)
    const figures = await measure(run, 12)
    console.log(describeFigures(figures).replace(/^/gm, '      '))
    assert.ok(Number.isFinite(run.quietSeconds), 'the rounds settle')
    for (const f of figures) {
      assert.equal(f.violations, 0)
      assert.equal(f.bans, 0)
      assert.equal(f.repairs, 0)
      assert.equal(f.health.ok, ROOTS)
      assert.ok(f.requestsPerRound <= 2, `${f.requestsPerRound} requests per round`)
      assert.ok(f.bytesSentPerRound < 4_096, `${f.bytesSentPerRound} bytes per round`)
    }

    // what people ask of a daemon keeping that many roots
    const [d] = run.daemons
    const status = await timed(['status', run.roots[0].toString(), '--json', '--repo', d.repo])
    assert.equal(JSON.parse(status.stdout).copies, 3)
    const replicas = await timed(['replicas', '--json', '--repo', d.repo])
    assert.equal(JSON.parse(replicas.stdout).length, ROOTS)
    const ls = await timed(['ls', '--json', '--repo', d.repo])
    const stat = await timed(['stat', '--json', '--repo', d.repo])
    console.log(`      shoal status ${status.seconds.toFixed(2)} s, replicas ${replicas.seconds.toFixed(2)} s (${(replicas.stdout.length / 2 ** 20).toFixed(1)} MiB), ls ${ls.seconds.toFixed(2)} s, stat ${stat.seconds.toFixed(2)} s`)

    if (PROFILE_DIR != null) {
      // a clean stop writes the profiles (the hand-over is cut short by --leave-timeout 5)
      await Promise.all(run.daemons.map(async d => { await shoalOk(['stop', '--repo', d.repo], { timeout: 120_000 }); await d.exited }))
      console.log(`      CPU profiles in ${PROFILE_DIR}: ${(await fs.readdir(PROFILE_DIR)).map(f => path.basename(f)).join(', ')}`)
    }
  })
})
