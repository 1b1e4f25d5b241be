import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { decodeStripe, encodeStripe, parseErasure, stripeCount, stripeOf } from '../../src/content/erasure.js'
import type { ErasureScheme } from '../../src/content/erasure.js'

/** Every way of choosing `n` of `0 … total-1`. */
function choose (total: number, n: number): number[][] {
  if (n === 0) return [[]]
  const out: number[][] = []
  for (let first = 0; first <= total - n; first++) {
    for (const rest of choose(total - first - 1, n - 1)) out.push([first, ...rest.map(r => r + first + 1)])
  }
  return out
}

function stripe (lengths: number[], scheme: ErasureScheme): { data: Uint8Array[], fragments: Uint8Array[] } {
  const data = lengths.map(l => new Uint8Array(randomBytes(l)))
  return { data, fragments: [...data, ...encodeStripe(data, scheme)] }
}

describe('content: erasure coding', () => {
  it('parses K+M, and says what is wrong with anything else in one line', () => {
    assert.deepEqual(parseErasure('4+2'), { k: 4, m: 2 })
    assert.deepEqual(parseErasure(' 10 + 4 '), { k: 10, m: 4 })
    for (const bad of ['4', '4+', '+2', '4+2+1', 'four+two', '4-2', '0+2', '4+0', '60+10', '4.5+2']) {
      assert.throws(() => parseErasure(bad), (err: Error) => err.name === 'InputError' && err.message.startsWith('--erasure') && !err.message.includes('\n'), bad)
    }
  })

  it('numbers leaves into stripes of K: leaf i is data fragment i mod K of stripe i div K', () => {
    const scheme = { k: 4, m: 2 }
    assert.deepEqual([0, 3, 4, 9].map(i => stripeOf(i, scheme)), [{ stripe: 0, fragment: 0 }, { stripe: 0, fragment: 3 }, { stripe: 1, fragment: 0 }, { stripe: 2, fragment: 1 }])
    assert.deepEqual([1, 4, 5, 8, 9].map(n => stripeCount(n, scheme)), [1, 1, 2, 2, 3])
  })

  it('gives back every leaf of a 4+2 stripe from every choice of 4 of its 6 fragments', () => {
    const scheme = { k: 4, m: 2 }
    const { data, fragments } = stripe([4096, 4096, 4096, 4096], scheme)
    assert.deepEqual(fragments.slice(4).map(f => f.byteLength), [4096, 4096])
    for (const kept of choose(6, 4)) {
      const decoded = decodeStripe(fragments.map((f, i) => kept.includes(i) ? f : undefined), data.map(d => d.byteLength), scheme)
      assert.deepEqual(decoded, data, `fragments ${kept.join(',')}`)
    }
  })

  it('a short last stripe and leaves of unequal lengths (the file\'s tail) come back at their own lengths', () => {
    const scheme = { k: 4, m: 3 }
    const { data, fragments } = stripe([1000, 1, 777], scheme)
    assert.deepEqual(fragments.slice(3).map(f => f.byteLength), [1000, 1000, 1000])
    // three leaves in a stripe of four: any three fragments give them back
    for (const kept of choose(6, 3)) {
      const given = [...fragments.slice(0, 3), undefined, ...fragments.slice(3)].map((f, i) => kept.includes(i < 3 ? i : i - 1) && i !== 3 ? f : undefined)
      assert.deepEqual(decodeStripe(given, [1000, 1, 777], scheme), data, `fragments ${kept.join(',')}`)
    }
  })

  it('10+4 survives any 4 losses', () => {
    const scheme = { k: 10, m: 4 }
    const { data, fragments } = stripe(Array.from({ length: 10 }, () => 2048), scheme)
    for (const lost of choose(14, 4)) {
      const decoded = decodeStripe(fragments.map((f, i) => lost.includes(i) ? undefined : f), data.map(d => d.byteLength), scheme)
      assert.deepEqual(decoded, data, `lost ${lost.join(',')}`)
    }
  })

  it('fewer than K fragments, or one of the wrong size, is an ErasureError', () => {
    const scheme = { k: 4, m: 2 }
    const { data, fragments } = stripe([512, 512, 512, 512], scheme)
    const lengths = data.map(d => d.byteLength)
    assert.throws(() => decodeStripe([fragments[0], undefined, undefined, undefined, fragments[4], fragments[5]], lengths, scheme), { name: 'ErasureError', message: /3 of 6 fragments .* at least 4/ })
    assert.throws(() => decodeStripe([fragments[0], undefined, fragments[2], fragments[3], fragments[4].subarray(1), fragments[5]], lengths, scheme), { name: 'ErasureError', message: /fragment 4 .* 511 bytes, not 512/ })
    assert.throws(() => encodeStripe([], scheme), { name: 'ErasureError' })
  })

  it('a wrong parity fragment gives a wrong leaf, which the caller\'s verification catches (never the right bytes by chance)', () => {
    const scheme = { k: 4, m: 2 }
    const { data, fragments } = stripe([256, 256, 256, 256], scheme)
    const bad = fragments[4].slice()
    bad[0] ^= 1
    const decoded = decodeStripe([undefined, fragments[1], fragments[2], fragments[3], bad, undefined], data.map(d => d.byteLength), scheme)
    assert.notDeepEqual(decoded[0], data[0])
    assert.deepEqual(decoded.slice(1), data.slice(1))
  })
})

describe('content: erasure coding, against the Rust reed-solomon-erasure crate (as WebAssembly)', () => {
  it('makes the same parity, for leaves of every shape (aligned, odd, offset in their buffer)', async () => {
    const { ReedSolomonErasure } = await import('@digitaldefiance/reed-solomon-erasure.wasm')
    const main = createRequire(import.meta.url).resolve('@digitaldefiance/reed-solomon-erasure.wasm')
    const theirs = ReedSolomonErasure.fromBytes(await fs.readFile(path.join(path.dirname(main), 'reed_solomon_erasure_bg.wasm')))
    for (const [k, m, size] of [[4, 2, 65536], [10, 4, 8193], [3, 5, 1], [1, 3, 5000], [6, 3, 1 << 20]]) {
      const shards = new Uint8Array(size * (k + m))
      shards.set(randomBytes(size * k))
      // one byte in: leaves that do not start on an even address
      const data = Array.from({ length: k }, (_, i) => {
        const at = new Uint8Array(size + 1)
        at.set(shards.subarray(i * size, (i + 1) * size), 1)
        return at.subarray(1)
      })
      assert.equal(theirs.encode(shards, k, m), ReedSolomonErasure.RESULT_OK)
      const ours = encodeStripe(data, { k, m })
      ours.forEach((p, j) => { assert.deepEqual(p, shards.subarray((k + j) * size, (k + j + 1) * size), `${k}+${m} at ${size} bytes: parity ${j}`) })
      // and ours decodes from parity alone where it can
      if (m >= k) assert.deepEqual(decodeStripe([...data.map(() => undefined), ...ours], data.map(() => size), { k, m }), data)
    }
  })
})
