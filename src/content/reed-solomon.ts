import { ErasureError } from '../errors.js'

/*
 * Reed-Solomon erasure coding over GF(2^8) (the field of the usual codecs:
 * polynomial x^8 + x^4 + x^3 + x^2 + 1, generator 2), systematic: a
 * Vandermonde matrix of K + M rows times the inverse of its top K rows, so
 * the first K fragments are the data itself and any K rows are invertible.
 * Small matrices (at most 64 × 64) are plain arrays; the loops over bytes
 * take two at a time through a 65 536-entry product table per coefficient.
 */

const EXP = new Uint8Array(512)
const LOG = new Uint8Array(256)
{
  let x = 1
  for (let i = 0; i < 255; i++) {
    EXP[i] = x
    LOG[x] = i
    x <<= 1
    if ((x & 0x100) !== 0) x ^= 0x11d
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]
}

/** MUL[a << 8 | b] = a · b in GF(2^8): 64 KiB, made once. */
const MUL = new Uint8Array(65536)
for (let a = 1; a < 256; a++) for (let b = 1; b < 256; b++) MUL[a << 8 | b] = EXP[LOG[a] + LOG[b]]

const mul = (a: number, b: number): number => MUL[a << 8 | b]

function pow (a: number, n: number): number {
  if (n === 0) return 1
  if (a === 0) return 0
  return EXP[(LOG[a] * n) % 255]
}

type Matrix = number[][]

function multiply (a: Matrix, b: Matrix): Matrix {
  return a.map(row => b[0].map((_, c) => row.reduce((sum, v, i) => sum ^ mul(v, b[i][c]), 0)))
}

/** The inverse of a square matrix, by Gauss-Jordan elimination; an ErasureError if it has none. */
function invert (matrix: Matrix): Matrix {
  const n = matrix.length
  const work = matrix.map((row, r) => [...row, ...Array.from({ length: n }, (_, c) => Number(c === r))])
  for (let col = 0; col < n; col++) {
    const pivot = work.findIndex((row, r) => r >= col && row[col] !== 0)
    if (pivot < 0) throw new ErasureError('the fragments given do not determine the data (a singular matrix)')
    ;[work[col], work[pivot]] = [work[pivot], work[col]]
    const scale = EXP[255 - LOG[work[col][col]]]
    work[col] = work[col].map(v => mul(v, scale))
    for (let r = 0; r < n; r++) {
      const factor = work[r][col]
      if (r === col || factor === 0) continue
      work[r] = work[r].map((v, c) => v ^ mul(factor, work[col][c]))
    }
  }
  return work.map(row => row.slice(n))
}

const matrices = new Map<string, Matrix>()

/** The K + M × K coding matrix: its top K rows the identity, any K of its rows invertible. */
function codingMatrix (k: number, m: number): Matrix {
  const key = `${k}+${m}`
  let matrix = matrices.get(key)
  if (matrix == null) {
    const vandermonde = Array.from({ length: k + m }, (_, r) => Array.from({ length: k }, (_, c) => pow(r, c)))
    matrix = multiply(vandermonde, invert(vandermonde.slice(0, k)))
    matrices.set(key, matrix)
  }
  return matrix
}

/** Products of two bytes at once for one coefficient (128 KiB each), the last few used kept. */
const pairTables = new Map<number, Uint16Array>()
const PAIR_TABLES_KEPT = 32

function pairTable (c: number): Uint16Array {
  let table = pairTables.get(c)
  if (table == null) {
    const row = MUL.subarray(c << 8, (c << 8) + 256)
    table = new Uint16Array(65536)
    // little-endian: the byte at the lower address is the low half of the pair
    for (let hi = 0; hi < 256; hi++) {
      const high = row[hi] << 8
      for (let lo = 0; lo < 256; lo++) table[hi << 8 | lo] = high | row[lo]
    }
    if (pairTables.size >= PAIR_TABLES_KEPT) pairTables.delete(pairTables.keys().next().value!)
  } else {
    pairTables.delete(c)
  }
  pairTables.set(c, table)
  return table
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** `out ^= c · input`: two bytes at a time where both are aligned, else byte by byte. */
function mulAdd (out: Uint8Array, input: Uint8Array, c: number): void {
  if (c === 0) return
  const n = input.byteLength
  let j = 0
  if (LITTLE_ENDIAN && n >= 4096 && out.byteOffset % 2 === 0 && input.byteOffset % 2 === 0) {
    const pairs = n >> 1
    const o = new Uint16Array(out.buffer, out.byteOffset, pairs)
    const i = new Uint16Array(input.buffer, input.byteOffset, pairs)
    if (c === 1) {
      for (let p = 0; p < pairs; p++) o[p] ^= i[p]
    } else {
      const table = pairTable(c)
      for (let p = 0; p < pairs; p++) o[p] ^= table[i[p]]
    }
    j = pairs << 1
  }
  const row = MUL.subarray(c << 8, (c << 8) + 256)
  for (; j < n; j++) out[j] ^= row[input[j]]
}

/** The M parity fragments of K data fragments, all `size` bytes long (shorter ones count as zero-padded). */
export function rsEncode (data: Uint8Array[], k: number, m: number, size: number): Uint8Array[] {
  const matrix = codingMatrix(k, m)
  return Array.from({ length: m }, (_, p) => {
    const out = new Uint8Array(size)
    for (let c = 0; c < data.length; c++) mulAdd(out, data[c], matrix[k + p][c])
    return out
  })
}

/**
 * The data fragments at `wanted` (indices below K) from K present ones.
 * `fragments` holds K + M entries, undefined where missing, each present one
 * `size` bytes long (a short data fragment counts as zero-padded).
 */
export function rsDecode (fragments: Array<Uint8Array | undefined>, k: number, m: number, size: number, wanted: number[]): Uint8Array[] {
  const matrix = codingMatrix(k, m)
  const present: number[] = []
  for (let i = 0; i < k + m && present.length < k; i++) if (fragments[i] != null) present.push(i)
  if (present.length < k) throw new ErasureError(`${present.length} fragments of a ${k}+${m} stripe: at least ${k} are needed`)
  const inverse = invert(present.map(i => matrix[i]))
  return wanted.map(i => {
    const out = new Uint8Array(size)
    present.forEach((f, c) => { mulAdd(out, fragments[f]!, inverse[i][c]) })
    return out
  })
}
