import { createReadStream } from 'node:fs'
import path from 'node:path'
import { exporter } from 'ipfs-unixfs-exporter'
import { readCar } from '../content/car.js'
import { DAG_PB_CODE, RAW_CODE, isInterior } from '../content/dag.js'
import { countDagBlocks } from '../content/dag-shape.js'
import { walkDag } from '../content/dag-walk.js'
import { BlockNotFoundError, InputError } from '../errors.js'
import type { BlockStore } from '../store/block-store.js'
import type { AbortOptions } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** A root of an imported CAR, as it is pinned. */
interface CarRoot {
  cid: CID
  name: string
  size: number
  type: 'file' | 'directory'
}

export interface CarImportResult {
  roots: CarRoot[]
  /** Blocks and bytes read from the CAR (each verified). */
  blocks: number
  bytes: number
  pinned: boolean
}

/**
 * Store the blocks of the CAR file `file` as copies in the repo (the CAR is
 * an archive, not the data: nothing refers to it afterwards), every one
 * verified against its CID first; then check that each root's DAG is here
 * whole and say what it is. Pinning is the caller's.
 */
export async function importCar (blocks: BlockStore, file: string, options: AbortOptions = {}): Promise<Omit<CarImportResult, 'pinned'>> {
  const car = await readCar(createReadStream(file, { signal: options.signal }))
  if (car.roots.length === 0) throw new InputError(`${file} names no root: nothing to pin`)
  for (const root of car.roots) {
    if (root.code !== DAG_PB_CODE && root.code !== RAW_CODE) {
      throw new InputError(`root ${root.toString()} is not UnixFS (codec 0x${root.code.toString(16)}): Shoal shares files and directories`)
    }
  }
  let count = 0
  let bytes = 0
  for await (const block of car.blocks) {
    await blocks.put(block, options)
    count++
    bytes += block.byteLength
  }
  const base = path.basename(file).replace(/\.car$/i, '')
  const roots: CarRoot[] = []
  for (const [i, root] of car.roots.entries()) {
    await checkWhole(blocks, root, options)
    const entry = await exporter(root, blocks.exporterStore(), { signal: options.signal })
    const type = entry.type === 'directory' ? 'directory' : 'file'
    const size = entry.type === 'directory' ? 0 : Number(entry.size)
    roots.push({ cid: root, name: car.roots.length === 1 ? base : `${base}-${i + 1}`, size, type })
  }
  return { roots, blocks: count, bytes }
}

/**
 * Throw InputError unless every block under `root` is in the store, and
 * DagLimitError if a reader would meet more blocks than Shoal walks (a few
 * blocks linking to each other a thousand times over): refused before it is
 * pinned, so nobody is ever offered it from here.
 */
async function checkWhole (blocks: BlockStore, root: CID, options: AbortOptions): Promise<void> {
  const load = async (cid: CID): Promise<Uint8Array | undefined> => await blocks.get(cid, options).then(b => b.bytes, err => {
    if (err instanceof BlockNotFoundError) return undefined
    throw err
  })
  await countDagBlocks(root, load, {}, options.signal)
  let missing = 0
  let first: CID | undefined
  for await (const step of walkDag([root], load, { unique: true, signal: options.signal })) {
    const here = isInterior(step.cid) ? step.bytes != null : await blocks.has(step.cid, options)
    if (!here) {
      missing++
      first ??= step.cid
    }
  }
  if (first != null) {
    throw new InputError(`the CAR does not hold all of ${root.toString()}: ${missing} block(s) missing, the first ${first.toString()}; nothing was pinned`)
  }
}
