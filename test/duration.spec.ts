import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { formatDuration } from '../src/duration.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** The web page's copy of the formatter (webui/app.js cannot import src/), taken out of the script. */
async function pageDuration (): Promise<(seconds: number) => string> {
  const app = await fs.readFile(path.join(ROOT, 'webui/app.js'), 'utf8')
  const source = /^function duration \(seconds\) \{\n[\s\S]*?\n\}$/m.exec(app)
  assert.ok(source != null, 'webui/app.js has function duration (seconds)')
  // eslint-disable-next-line no-new-func
  return new Function(`${source[0]}\nreturn duration`)()
}

describe('formatDuration', () => {
  it('says a duration under a second in ms, never "0 s"', () => {
    assert.equal(formatDuration(0), '0 ms')
    assert.equal(formatDuration(0.0004), '0 ms')
    assert.equal(formatDuration(0.12), '120 ms')
    assert.equal(formatDuration(0.9994), '999 ms')
  })

  it('tenths under ten seconds (a whole number without ".0"), then whole seconds, minutes, hours (whole ones alone)', () => {
    assert.equal(formatDuration(0.9996), '1 s')
    assert.equal(formatDuration(1.04), '1 s')
    assert.equal(formatDuration(1.5), '1.5 s')
    assert.equal(formatDuration(3), '3 s')
    assert.equal(formatDuration(9.94), '9.9 s')
    assert.equal(formatDuration(9.96), '10 s')
    assert.equal(formatDuration(14.6), '15 s')
    assert.equal(formatDuration(59.6), '1 min')
    assert.equal(formatDuration(65), '1 min 05 s')
    assert.equal(formatDuration(3599.6), '1 h')
    assert.equal(formatDuration(3 * 3600 + 10), '3 h')
    assert.equal(formatDuration(2 * 3600 + 5 * 60 + 20), '2 h 05 min')
  })

  it('"?" for what is not a duration', () => {
    for (const v of [-1, NaN, Infinity]) assert.equal(formatDuration(v), '?')
  })

  it('grows with the duration it says: a longer one never reads shorter', () => {
    const inSeconds = (text: string): number => {
      const m = /^(?:(\d+) h(?: (\d+) min)?|(\d+) min(?: (\d+) s)?|([\d.]+) s|(\d+) ms)$/.exec(text)
      assert.ok(m != null, text)
      if (m[1] != null) return Number(m[1]) * 3600 + Number(m[2] ?? 0) * 60
      if (m[3] != null) return Number(m[3]) * 60 + Number(m[4] ?? 0)
      if (m[5] != null) return Number(m[5])
      return Number(m[6]) / 1000
    }
    fc.assert(fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 1e6, noNaN: true }), (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a]
      assert.ok(inSeconds(formatDuration(lo)) <= inSeconds(formatDuration(hi)), `${lo} → ${formatDuration(lo)}, ${hi} → ${formatDuration(hi)}`)
    }))
  })

  it('the web page says every duration as the CLI does', async () => {
    const page = await pageDuration()
    for (const v of [0, 0.12, 0.9996, 1.5, 3, 9.96, 14.6, 59.6, 65, 3599.6, 7520, -1, NaN, Infinity]) assert.equal(page(v), formatDuration(v), String(v))
    fc.assert(fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), v => page(v) === formatDuration(v)))
  })
})
