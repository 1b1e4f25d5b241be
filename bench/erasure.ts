import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { decodeStripe, encodeStripe, formatErasure } from '../src/content/erasure.js'
import type { ErasureScheme } from '../src/content/erasure.js'

const LEAF = 1 << 20

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function rate (bytes: number, run: () => void, runs: number): number {
  const times: number[] = []
  for (let r = 0; r < runs; r++) {
    const started = process.hrtime.bigint()
    run()
    times.push(Number(process.hrtime.bigint() - started) / 1e9)
  }
  return Math.round(bytes / median(times) / 1e6)
}

/**
 * Erasure coding on one thread, in MB/s of file data: encoding (the M parity
 * fragments of each stripe) and decoding with M data leaves lost (the worst
 * case: every leaf rebuilt from parity), beside SHA-256 over the same bytes
 * (what every leaf costs anyway), measured in turn in the same process;
 * and encoding by the Rust reed-solomon-erasure crate compiled to
 * WebAssembly, the same parity (its decoding is not used: it rebuilt
 * wrong or refused stripes whose missing shards were not the first ones).
 */
export async function erasureRates ({ schemes, stripes, runs }: { schemes: ErasureScheme[], stripes: number, runs: number }): Promise<any> {
  const crate = await rustCrate()
  const rows = schemes.map(scheme => {
    const { k, m } = scheme
    const data = Array.from({ length: stripes }, () => Array.from({ length: k }, () => new Uint8Array(randomBytes(LEAF))))
    const bytes = stripes * k * LEAF
    // warm: the coding matrices and product tables, the JIT
    const parity = data.map(d => encodeStripe(d, scheme))
    const lost = data.map((d, s) => [...d.map((leaf, i) => i < m ? undefined : leaf), ...parity[s]])
    const lengths = Array.from({ length: k }, () => LEAF)
    decodeStripe(lost[0], lengths, scheme)
    const sha256 = rate(bytes, () => { for (const d of data) for (const leaf of d) createHash('sha256').update(leaf).digest() }, runs)
    const encode = rate(bytes, () => { for (const d of data) encodeStripe(d, scheme) }, runs)
    const decode = rate(bytes, () => { for (const l of lost) decodeStripe(l, lengths, scheme) }, runs)
    // the same parity from the Rust reed-solomon-erasure crate (WebAssembly; one buffer per stripe, as it takes them)
    const shards = data.map(d => { const b = new Uint8Array(LEAF * (k + m)); d.forEach((leaf, i) => { b.set(leaf, i * LEAF) }); return b })
    const rust = crate == null ? undefined : rate(bytes, () => { for (const b of shards) crate.encode(b, k, m) }, runs)
    return {
      scheme: formatErasure(scheme),
      MiB: bytes / 2 ** 20,
      sha256MBps: sha256,
      encodeMBps: encode,
      decodeMBps: decode,
      encodeOverSha256: +(encode / sha256).toFixed(2),
      decodeOverSha256: +(decode / sha256).toFixed(2),
      ...(rust == null ? {} : { rustWasmEncodeMBps: rust, encodeOverRustWasm: +(encode / rust).toFixed(2) })
    }
  })
  return { scenario: 'erasure coding (one thread, 1 MiB leaves, decode with M data leaves lost)', rows }
}

/** The Rust crate as WebAssembly (a dev dependency; the test of equal parity uses it too), if installed. */
async function rustCrate (): Promise<{ encode(shards: Uint8Array, k: number, m: number): number } | undefined> {
  try {
    const { ReedSolomonErasure } = await import('@digitaldefiance/reed-solomon-erasure.wasm')
    const main = createRequire(import.meta.url).resolve('@digitaldefiance/reed-solomon-erasure.wasm')
    return ReedSolomonErasure.fromBytes(await fs.readFile(path.join(path.dirname(main), 'reed_solomon_erasure_bg.wasm')))
  } catch {
    return undefined
  }
}
