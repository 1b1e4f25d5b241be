import { isInterior, sizedLinks } from '../content/dag.js'
import { walkDag } from '../content/dag-walk.js'
import { MAX_DAG_BLOCKS } from '../content/constants.js'
import { BlockNotFoundError, BlockVerificationError, DagLimitError } from '../errors.js'
import { Availability } from './availability.js'
import { Bitfield } from './bitfield.js'
import { LeafIndex } from './leaf-index.js'
import { WantList } from './want-list.js'
import type { RemotePeer } from './swarm.js'
import type { BlockStore } from '../store/block-store.js'
import type { Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface SessionDagComponents {
  blocks: BlockStore
  log: Logger
  /**
   * A block goes on the want list: tell the node-wide want manager; true
   * when another download is fetching it already (it is waited for).
   */
  register(cid: CID): boolean
  /** The DAG's declared size is known: throws if it may not be fetched. */
  checkSize?(bytes: number): void
}

/** The leaves numbered, once every interior node is known. */
export interface LeafNumbering {
  index: LeafIndex
  /** Leaves on disk. */
  local: Bitfield
  /** How many reachable peers hold each leaf. */
  availability: Availability
  /** A random rank per leaf: breaks ties between equally rare leaves. */
  tiebreak: Uint32Array
}

/**
 * What one download knows of its DAG: the blocks it still wants, the leaves
 * in order once every interior node is here, and how far along it is
 * (blocks and bytes on disk, of how many). It walks the DAG through what the
 * store holds, and again below each interior node that arrives.
 */
export class SessionDag {
  readonly root: CID
  readonly wants = new WantList()
  blocksDone = 0
  bytesDone = 0
  /** Bytes of the whole DAG, once the root is known. */
  bytesTotal = 0
  blocksAlreadyHeld = 0
  numbering?: LeafNumbering
  /** The first leaf not on disk (sequential mode fetches from here). */
  frontier = 0
  private readonly c: SessionDagComponents
  /** Sizes the parents name for blocks not yet counted as done (for byte progress). */
  private readonly sizes = new Map<string, number>()
  private interiorOutstanding = 0
  private building?: Promise<LeafNumbering | undefined>
  /** Blocks met on disk by a walk (each walked once, however often the DAG links to it). */
  private readonly walked = new Set<string>()

  /** Only the root's own block is wanted, not the DAG under it. */
  private readonly shallow: boolean

  constructor (root: CID, components: SessionDagComponents, options: { shallow?: boolean } = {}) {
    this.root = root
    this.c = components
    this.shallow = options.shallow === true
  }

  /** Blocks known to belong to the DAG so far. */
  get blocksKnown (): number {
    return this.wants.knownCount + this.blocksAlreadyHeld
  }

  /**
   * Walk the DAG below `cids` through what the store already holds; every
   * missing block goes on the want list. Each block is met once, however
   * often the DAG links to it, and a DAG with more distinct blocks than
   * `MAX_DAG_BLOCKS` is refused (`DagLimitError`).
   */
  async expand (cids: CID[]): Promise<void> {
    if (this.shallow) {
      if (await this.c.blocks.has(this.root)) {
        this.blocksAlreadyHeld++
        this.blocksDone++
      } else {
        this.want(this.root)
      }
      return
    }
    // each block once: what was walked (or wanted) is skipped, in this walk and the next
    const steps = walkDag(cids, async cid => await this.held(cid), { skip: cid => this.wants.has(cid.toString()) || this.walked.has(cid.toString()) })
    for await (const step of steps) {
      this.checkSize()
      if (step.links != null) {
        this.walked.add(step.cid.toString())
        this.noteLinks(step.cid, step.bytes!, step.links)
        this.counted(step.cid, step.bytes!.byteLength)
      } else if (isInterior(step.cid) || !(await this.c.blocks.has(step.cid))) {
        this.want(step.cid)
        continue
      } else {
        this.walked.add(step.cid.toString())
        this.counted(step.cid, this.sizes.get(step.cid.toString()) ?? step.size)
      }
      this.blocksAlreadyHeld++
      this.blocksDone++
    }
  }

  /**
   * A wanted block is on disk (`bytes`: an interior node's, to walk on; a
   * leaf's size is what its parent named). Counts it and walks what an
   * interior node reveals.
   */
  async landed (cid: CID, size: number | undefined, bytes?: Uint8Array): Promise<void> {
    this.counted(cid, size ?? this.sizes.get(cid.toString()) ?? 0)
    if (bytes != null && !this.shallow) await this.expand(this.children(cid, bytes))
  }

  /**
   * A landed block is settled (off the want list). Returns the leaf indices
   * it fills: the caller sets them in `numbering.local` (the swarm announces
   * them as it does) and then calls `advanceFrontier`.
   */
  settled (cid: CID): number[] {
    this.blocksDone++
    if (isInterior(cid)) {
      this.interiorOutstanding--
      return []
    }
    return this.numbering?.index.indicesOf(cid) ?? []
  }

  /**
   * Once every interior node is on disk, number the leaves (once). `remotes`
   * seed the availability. Undefined while interior nodes are missing.
   */
  async number (remotes: Iterable<RemotePeer>): Promise<LeafNumbering | undefined> {
    if (this.numbering != null) return this.numbering
    if (this.shallow || this.interiorOutstanding > 0 || !isInterior(this.root)) return undefined
    this.building ??= this.buildNumbering(remotes).finally(() => { this.building = undefined })
    return await this.building
  }

  /** Throws `DagLimitError` once the DAG has more distinct blocks than a download may fetch. */
  private checkSize (): void {
    if (this.walked.size + this.wants.knownCount > MAX_DAG_BLOCKS) {
      throw new DagLimitError(`the DAG under ${this.root.toString()} has more than ${MAX_DAG_BLOCKS} distinct blocks: refused`)
    }
  }

  private async buildNumbering (remotes: Iterable<RemotePeer>): Promise<LeafNumbering | undefined> {
    try {
      const index = await LeafIndex.build(this.root, this.c.blocks)
      const local = new Bitfield(index.size)
      for (const cid of index.uniqueLeaves()) {
        if (!this.wants.has(cid.toString())) for (const i of index.indicesOf(cid)) local.set(i)
      }
      const availability = new Availability(index.size)
      for (const remote of remotes) availability.setPeer(remote.key, remote.complete, remote.bitfield)
      const tiebreak = new Uint32Array(index.size)
      crypto.getRandomValues(tiebreak)
      this.numbering = { index, local, availability, tiebreak }
      this.advanceFrontier()
      return this.numbering
    } catch (err: any) {
      // a DAG too large to number is refused; anything else (a node that rotted meanwhile) is tried again later
      if (err instanceof DagLimitError) throw err
      this.c.log('cannot number the leaves yet: %s', err.message)
      return undefined
    }
  }

  /** An interior node the store holds (undefined when missing or rotten: it is fetched again). */
  private async held (cid: CID): Promise<Uint8Array | undefined> {
    if (!(await this.c.blocks.has(cid))) return undefined
    try {
      return (await this.c.blocks.get(cid)).bytes
    } catch (err) {
      if (err instanceof BlockVerificationError || err instanceof BlockNotFoundError) return undefined
      throw err
    }
  }

  /** An interior node's children, noting the sizes it names (the root's give the DAG's total). */
  private children (cid: CID, bytes: Uint8Array): CID[] {
    const links = sizedLinks(cid, bytes)
    this.noteLinks(cid, bytes, links)
    return links.map(l => l.cid)
  }

  private noteLinks (cid: CID, bytes: Uint8Array, links: Array<{ cid: CID, size: number }>): void {
    for (const link of links) this.sizes.set(link.cid.toString(), link.size)
    if (cid.equals(this.root)) {
      this.bytesTotal = bytes.byteLength + links.reduce((n, l) => n + l.size, 0)
      this.c.checkSize?.(this.bytesTotal)
    }
  }

  /** A block is on disk: it counts towards the bytes done. */
  private counted (cid: CID, bytes: number): void {
    this.sizes.delete(cid.toString())
    this.bytesDone += bytes
  }

  private want (cid: CID): void {
    if (this.wants.has(cid.toString())) return
    if (isInterior(cid)) this.interiorOutstanding++
    this.wants.add(cid)
    if (this.c.register(cid)) this.wants.elsewhere(cid)
  }

  /** Move the frontier past the leaves on disk. */
  advanceFrontier (): void {
    const local = this.numbering?.local
    if (local == null) return
    while (this.frontier < local.size && local.has(this.frontier)) this.frontier++
  }
}
