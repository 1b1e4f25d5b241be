import { ErasureError, InputError } from '../errors.js'
import { MAX_ERASURE_FRAGMENTS } from './constants.js'
import { rsDecode, rsEncode } from './reed-solomon.js'

/**
 * An erasure code of K data and M parity fragments per stripe: any K of the
 * K + M fragments of a stripe give back its data.
 *
 * The code is systematic: a stripe is K consecutive leaves of a file, and
 * its data fragments are those leaves themselves (already content-addressed
 * blocks of the file's DAG, verified against it as any leaf); only the M
 * parity fragments are new blocks. Fragment i of every stripe is kept by one
 * holder, so a holder keeps 1/K of the file and losing any M holders loses
 * nothing.
 */
export interface ErasureScheme {
  /** Data fragments per stripe. */
  k: number
  /** Parity fragments per stripe. */
  m: number
}

/** `K+M` (as in `--erasure 4+2`), each a whole number, K ≥ 1, M ≥ 1, K + M ≤ `MAX_ERASURE_FRAGMENTS`. */
export function parseErasure (text: string): ErasureScheme {
  const match = /^\s*(\d{1,3})\s*\+\s*(\d{1,3})\s*$/.exec(text)
  if (match == null) throw new InputError(`--erasure: not K+M: ${JSON.stringify(text)} (try 4+2: any 4 of 6 fragments give back the file)`)
  const scheme = { k: Number(match[1]), m: Number(match[2]) }
  checkScheme(scheme)
  return scheme
}

function checkScheme ({ k, m }: ErasureScheme): void {
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 1) throw new InputError(`--erasure ${k}+${m}: K and M must each be at least 1`)
  if (k + m > MAX_ERASURE_FRAGMENTS) throw new InputError(`--erasure ${k}+${m}: at most ${MAX_ERASURE_FRAGMENTS} fragments per stripe`)
}

export function formatErasure ({ k, m }: ErasureScheme): string {
  return `${k}+${m}`
}

/** Which stripe leaf `leaf` (its index in file order) is in, and which data fragment of it. */
export function stripeOf (leaf: number, { k }: ErasureScheme): { stripe: number, fragment: number } {
  return { stripe: Math.floor(leaf / k), fragment: leaf % k }
}

/** Stripes of a file of `leaves` leaves. */
export function stripeCount (leaves: number, { k }: ErasureScheme): number {
  return Math.ceil(leaves / k)
}

/**
 * The M parity fragments of one stripe from its data leaves (at most K: the
 * last stripe of a file may have fewer, the rest counting as empty). Each
 * parity fragment is as long as the stripe's longest leaf; shorter leaves
 * count as padded with zeros.
 */
export function encodeStripe (data: Uint8Array[], scheme: ErasureScheme): Uint8Array[] {
  checkScheme(scheme)
  const { k, m } = scheme
  if (data.length < 1 || data.length > k) throw new ErasureError(`a stripe of ${k}+${m} has 1 to ${k} data fragments, not ${data.length}`)
  const size = Math.max(...data.map(d => d.byteLength))
  if (size === 0) return Array.from({ length: m }, () => new Uint8Array(0))
  return rsEncode(data, k, m, size)
}

/**
 * The data leaves of one stripe from any K of its fragments. `fragments`
 * holds K + M entries (data first, then parity), undefined where one is
 * missing; `lengths` the length of each data leaf of the stripe (from the
 * file's DAG: at most K, fewer in a short last stripe). Returns every data
 * leaf, rebuilt where it was missing. The caller verifies each rebuilt leaf
 * against the DAG: a wrong parity fragment gives a wrong leaf, never an
 * error here.
 */
export function decodeStripe (fragments: Array<Uint8Array | undefined>, lengths: number[], scheme: ErasureScheme): Uint8Array[] {
  checkScheme(scheme)
  const { k, m } = scheme
  if (fragments.length !== k + m) throw new ErasureError(`a stripe of ${k}+${m} has ${k + m} fragments, not ${fragments.length}`)
  if (lengths.length < 1 || lengths.length > k) throw new ErasureError(`a stripe of ${k}+${m} has 1 to ${k} data leaves, not ${lengths.length}`)
  const size = Math.max(...lengths)
  // a short stripe's missing leaves are known: empty
  const have = fragments.filter((f, i) => f != null || (i >= lengths.length && i < k)).length
  if (have < k) throw new ErasureError(`${have} of ${k + m} fragments of a ${k}+${m} stripe: at least ${k} are needed`)
  for (let i = 0; i < k + m; i++) {
    const f = fragments[i]
    if (f == null) continue
    const want = i < k ? (lengths[i] ?? 0) : size
    if (f.byteLength !== want) throw new ErasureError(`fragment ${i} of a ${k}+${m} stripe is ${f.byteLength} bytes, not ${want}`)
  }
  const missing = lengths.map((_, i) => fragments[i] == null)
  if (!missing.includes(true)) return lengths.map((_, i) => fragments[i]!)
  if (size === 0) return lengths.map(() => new Uint8Array(0))
  // a short stripe's leaves past its last are empty: zeros, present
  const given = fragments.map((f, i) => f ?? (i >= lengths.length && i < k ? new Uint8Array(0) : undefined))
  const wanted = lengths.flatMap((_, i) => fragments[i] == null ? [i] : [])
  const rebuilt = rsDecode(given, k, m, size, wanted)
  return lengths.map((length, i) => fragments[i] ?? rebuilt[wanted.indexOf(i)].subarray(0, length))
}
