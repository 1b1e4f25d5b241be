import { importer } from 'ipfs-unixfs-importer'
import * as json from 'multiformats/codecs/json'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { ErasureError } from '../errors.js'
import { MAX_DAG_BLOCKS } from './constants.js'
import { RAW_CODE, isInterior, sizedLinks } from './dag.js'
import { walkDagWith } from './dag-walk.js'
import { encodeStripe, formatErasure, parseErasure, stripeCount } from './erasure.js'
import { importerOptions } from './profile.js'
import type { ErasureScheme } from './erasure.js'
import type { AbortOptions } from '@libp2p/interface'

/**
 * How a root is erasure-coded. Its leaves (raw blocks, in DAG order) are cut
 * into stripes of K; holder i < K keeps the leaves of index i mod K, holder
 * K + j keeps parity column j: a UnixFS file whose leaves are the j-th
 * parity fragment of each stripe, in stripe order, so every parity fragment
 * is a content-addressed block and every column is verified as any DAG is.
 * Every holder keeps the root's interior nodes and this layout too.
 *
 * Stored as a JSON block; its CID is what holders and readers exchange.
 */
export interface ErasureLayout extends ErasureScheme {
  root: CID
  /** Leaves of the root in DAG order (the data fragments). */
  leaves: number
  /** The M parity columns' roots. */
  parity: CID[]
}

/** A leaf of the root: its CID and length (the parent's `Tsize` of a raw leaf). */
export interface LeafRef {
  cid: CID
  length: number
}

/** The largest layout block honest use makes: 64 parity roots of at most 44 bytes, as JSON. */
const MAX_LAYOUT_BYTES = 16 * 1024

export async function encodeLayout (layout: ErasureLayout): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = json.encode({
    v: 1,
    root: layout.root.toString(),
    erasure: formatErasure(layout),
    leaves: layout.leaves,
    parity: layout.parity.map(c => c.toString())
  })
  return { cid: CID.createV1(json.code, await sha256.digest(bytes)), bytes }
}

/** A layout block as a peer sent it (already verified against its CID): anything malformed is an ErasureError. */
export function decodeLayout (bytes: Uint8Array): ErasureLayout {
  if (bytes.byteLength > MAX_LAYOUT_BYTES) throw new ErasureError(`an erasure layout of ${bytes.byteLength} bytes (at most ${MAX_LAYOUT_BYTES})`)
  let value: any
  try {
    value = json.decode(bytes)
  } catch {
    throw new ErasureError('an erasure layout that is not JSON')
  }
  try {
    if (value?.v !== 1) throw new Error(`version ${String(value?.v)}`)
    const scheme = parseErasure(String(value.erasure))
    const leaves = value.leaves
    if (!Number.isSafeInteger(leaves) || leaves < 1 || leaves > MAX_DAG_BLOCKS) throw new Error(`${String(leaves)} leaves`)
    if (!Array.isArray(value.parity) || value.parity.length !== scheme.m) throw new Error(`not ${scheme.m} parity roots`)
    const parity = value.parity.map((c: unknown) => CID.parse(String(c)))
    return { ...scheme, root: CID.parse(String(value.root)), leaves, parity }
  } catch (err: any) {
    throw new ErasureError(`a malformed erasure layout: ${err.message}`)
  }
}

/**
 * The root's leaves in DAG order, with their lengths: the one bounded walk,
 * following every link (a leaf met twice is two data fragments).
 */
export async function leavesOf (root: CID, load: (cid: CID) => Promise<Uint8Array>, options: AbortOptions = {}): Promise<LeafRef[]> {
  if (root.code === RAW_CODE) return [{ cid: root, length: (await load(root)).byteLength }]
  const leaves: LeafRef[] = []
  const walk = walkDagWith<number>([{ cid: root, at: 0 }], async ({ cid }) => {
    if (!isInterior(cid)) return undefined
    return sizedLinks(cid, await load(cid)).map(l => ({ cid: l.cid, at: l.size }))
  }, { signal: options.signal })
  for await (const { cid, at } of walk) {
    if (cid.code === RAW_CODE) leaves.push({ cid, length: at })
  }
  return leaves
}

/** The interior nodes of a root (every block but its raw leaves), each once. */
export async function interiorOf (root: CID, load: (cid: CID) => Promise<Uint8Array>, options: AbortOptions = {}): Promise<CID[]> {
  const interior: CID[] = []
  const walk = walkDagWith<null>([{ cid: root, at: null }], async ({ cid }) => {
    if (!isInterior(cid)) return undefined
    interior.push(cid)
    return sizedLinks(cid, await load(cid)).filter(l => isInterior(l.cid)).map(l => ({ cid: l.cid, at: null }))
  }, { unique: true, signal: options.signal })
  for await (const _ of walk) { /* expand collects */ }
  return interior
}

/** Stripes encoded ahead of the slowest parity column at most. */
const STRIPES_AHEAD = 2

/**
 * Encode a root held here whole: every stripe's parity, each parity column
 * imported as a UnixFS file (its leaves the fragments, as they are) into
 * `store`. Streams: at most a few stripes are in memory at once, whatever
 * the file's size. Returns the layout (not stored: see `encodeLayout`).
 */
export async function encodeParity (root: CID, scheme: ErasureScheme, store: { get(cid: CID): Promise<Uint8Array>, put(cid: CID, bytes: Uint8Array, options?: AbortOptions): Promise<CID> }, options: AbortOptions = {}): Promise<ErasureLayout> {
  const leaves = await leavesOf(root, async cid => await store.get(cid), options)
  if (leaves.length === 0) throw new ErasureError(`${root.toString()} has no raw leaves to code`)
  const stripes = stripeCount(leaves.length, scheme)
  const { k, m } = scheme
  const encoded = new Map<number, { parity: Promise<Uint8Array[]>, taken: number }>()
  const consumed = Array.from({ length: m }, () => 0)
  let advanced: () => void = () => {}
  let progress = new Promise<void>(resolve => { advanced = resolve })
  const parityOf = async (stripe: number, column: number): Promise<Uint8Array> => {
    while (stripe >= Math.min(...consumed) + STRIPES_AHEAD) await progress
    let entry = encoded.get(stripe)
    if (entry == null) {
      const data = leaves.slice(stripe * k, stripe * k + k)
      entry = { parity: Promise.all(data.map(async l => await store.get(l.cid))).then(bytes => encodeStripe(bytes, scheme)), taken: 0 }
      encoded.set(stripe, entry)
    }
    const fragment = (await entry.parity)[column]
    if (++entry.taken === m) encoded.delete(stripe)
    consumed[column] = stripe + 1
    const wake = advanced
    progress = new Promise<void>(resolve => { advanced = resolve })
    wake()
    return fragment
  }
  const column = async (j: number): Promise<CID> => {
    async function * fragments (): AsyncGenerator<Uint8Array> {
      for (let s = 0; s < stripes; s++) yield await parityOf(s, j)
    }
    let cid: CID | undefined
    // each fragment is one leaf: the chunker passes them through as they are
    const opts = { ...importerOptions(), chunker: (source: AsyncIterable<Uint8Array>) => source, signal: options.signal }
    for await (const entry of importer([{ content: fragments() }], store, opts)) cid = entry.cid
    if (cid == null) throw new ErasureError(`parity column ${j} of ${root.toString()} made no root`)
    return cid
  }
  const parity = await Promise.all(Array.from({ length: m }, async (_, j) => await column(j)))
  return { root, k, m, leaves: leaves.length, parity }
}
