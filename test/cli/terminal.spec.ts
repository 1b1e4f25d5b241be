import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { SHOAL_BIN, shoalOk, useDaemons } from '../helpers/cli.js'

const MiB = 1024 * 1024
const HIDE_CURSOR = '\x1b[?25l'
const SHOW_CURSOR = '\x1b[?25h'

/**
 * Run `shoal ARGS` in a terminal (a pty, through util-linux `script`), as a
 * person would; `onOutput` sees everything the terminal shows and may type.
 */
async function inTerminal (args: string[], onOutput: (all: string, type: (keys: string) => void) => void): Promise<{ code: number | null, output: string }> {
  const command = [process.execPath, SHOAL_BIN, ...args].map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const child = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '120', LINES: '40' } })
  let output = ''
  child.stdout.on('data', d => {
    output += d.toString()
    onOutput(output, keys => { child.stdin.write(keys) })
  })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, output }
}

describe('cli: get in a terminal', function () {
  this.timeout(120_000)
  const scope = useDaemons()

  it('shows bytes of the total, a percentage that matches them and "1 peer"; Ctrl-C restores the terminal and says what was kept', async () => {
    const seeder = await scope.start('seeder', ['--max-upload-rate', '2MB'])
    const fetcher = await scope.start('fetcher', ['--bootstrap', seeder.addresses[0]])
    const file = path.join(scope.dir, 'slow')
    await fs.writeFile(file, randomBytes(12 * MiB))
    const { cid } = JSON.parse((await shoalOk(['add', file, '--json', '--repo', seeder.repo])).stdout)

    let typed = false
    const run = await inTerminal(['get', cid, '-o', path.join(scope.dir, 'copy'), '--repo', fetcher.repo], (all, type) => {
      // Ctrl-C once a few MiB have arrived
      if (!typed && /[3-9]\.\d MiB of 12\.0 MiB/.test(all)) {
        typed = true
        type('\x03')
      }
    })
    assert.ok(typed, `the bar showed bytes of the total:\n${JSON.stringify(run.output)}`)
    assert.equal(run.code, 130, JSON.stringify(run.output.slice(-600)))
    const frames = [...run.output.matchAll(/(\d+)% \| ([\d.]+) MiB of 12\.0 MiB \| [^|]+\| ETA [^|]+\| (\d+ peers?)/g)]
    assert.ok(frames.length > 0)
    for (const [, percent, done, peers] of frames) {
      assert.ok(Math.abs(Number(percent) - Number(done) / 12 * 100) <= 2, `${percent}% beside ${done} of 12 MiB`)
      assert.equal(peers, '1 peer')
    }
    assert.ok(run.output.lastIndexOf(SHOW_CURSOR) > run.output.lastIndexOf(HIDE_CURSOR), 'the cursor is shown again')
    assert.match(run.output, /shoal: interrupted: [\d.]+ MiB of 12\.0 MiB kept; run the same command to resume/)
    await assert.rejects(fs.access(path.join(scope.dir, 'copy')), 'no partial output')

    // the same command resumes: only what was missing is fetched
    const again = JSON.parse((await shoalOk(['get', cid, '-o', path.join(scope.dir, 'copy'), '--json', '--repo', fetcher.repo])).stdout.trim().split('\n').pop()!)
    assert.ok(again.blocksAlreadyHeld > 0, 'the kept blocks were used')
  })
})
