import { isInterior } from '../content/dag.js'
import { walkDag } from '../content/dag-walk.js'
import { verifyBlock } from '../content/verify.js'
import { BlockVerificationError } from '../errors.js'
import { REF_CHECK_INTERVAL } from '../store/constants.js'
import { COVERAGE_RECHECK } from './constants.js'
import type { SwarmRegistry } from '../exchange/swarm-registry.js'
import type { Announcer } from '../routing/announcer.js'
import type { BlockStore } from '../store/block-store.js'
import type { PinStore } from '../store/pin-store.js'
import type { RefFile, RefState, RefStore } from '../store/refs/ref-store.js'
import type { AbortOptions, ComponentLogger, Logger, Startable } from '@libp2p/interface'
import { CID } from 'multiformats/cid'

/** What `verify` found for one root. */
export interface VerifyResult {
  cid: string
  /** `ok`, or what the worst of its files is; `damaged`: copies in the block store failed (they go, to be fetched again). */
  state: RefState | 'damaged'
  /** Leaves checked, and how many of them failed. */
  leaves: number
  bad: number
  /** The referenced files holding its leaves. */
  files: Array<{ path: string, state: RefState }>
}

export interface ReferencesComponents {
  refs: RefStore
  blocks: BlockStore
  pins: PinStore
  announcer: Announcer
  swarms: SwarmRegistry
  logger: ComponentLogger
}

export interface ReferencesInit {
  /** How often referenced files' sizes and times are compared with what was recorded (ms). */
  checkInterval?: number
}

/**
 * Keeps the node honest about leaves it holds by reference: every
 * `checkInterval` it compares each referenced file's size and time with
 * what was recorded; a root whose file changed or went (seen then, or when a
 * leaf read from it fails verification) is no longer announced nor offered
 * as complete to its swarm, so no peer asks it for what it cannot give.
 * `verify` rechecks every leaf and serves a file again when it is intact.
 */
export class References implements Startable {
  private readonly c: ReferencesComponents
  private readonly log: Logger
  private readonly checkInterval: number
  private timer?: ReturnType<typeof setInterval>
  private checking?: Promise<void>
  /**
   * Roots one of whose files changed or went, and whether every block of
   * them is still here anyway (in another file that holds it, or a copy in
   * the repo): a replica's pack still serves a root whose user deleted the
   * output of a get of it. When it was found out, so it is found out again
   * after a while (a copy completed, or went, meanwhile).
   */
  private readonly covered = new Map<string, { whole: boolean, at: number }>()
  private readonly onState = (evt: CustomEvent<{ file: RefFile, was: RefState }>): void => { void this.changed(evt.detail.file) }

  constructor (components: ReferencesComponents, init: ReferencesInit = {}) {
    this.c = components
    this.log = components.logger.forComponent('shoal:references')
    this.checkInterval = init.checkInterval ?? REF_CHECK_INTERVAL
  }

  start (): void {
    this.c.refs.addEventListener('state', this.onState)
    this.timer = setInterval(() => { void this.check() }, this.checkInterval)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.c.refs.removeEventListener('state', this.onState)
    await this.checking
  }

  /**
   * Compare every referenced file with what was recorded (runs one at a
   * time). A missing file back at its path with its recorded size and time
   * (moved away and back) has its roots verified, and is served again if
   * every leaf is intact.
   */
  async check (): Promise<void> {
    this.checking ??= (async () => {
      const back = await this.c.refs.check()
      for (const root of new Set(back.flatMap(f => f.roots))) {
        this.log('a file of %s is back where it was: verifying it', root)
        const pinned = await this.pinnedCid(root)
        if (pinned != null) await this.verifyRoot(pinned, {})
      }
      // roots with a changed or missing file: still whole here through another copy?
      const now = Date.now()
      for (const root of new Set(this.c.refs.list().filter(f => f.state !== 'ok').flatMap(f => f.roots))) {
        const known = this.covered.get(root)
        if (known == null || now - known.at >= COVERAGE_RECHECK) await this.coverage(root)
      }
    })().catch(err => { this.log.error('checking referenced files failed: %s', err.message) }).finally(() => { this.checking = undefined })
    await this.checking
  }

  /**
   * Whether this peer can serve all of `root` it holds: no file of it
   * changed or went, or every block of it is here all the same (another file
   * or a copy holds it).
   */
  servable (root: CID): boolean {
    return this.rootState(root) === 'ok'
  }

  /** The state of the files a root is served from: `ok` also when a bad one's blocks are all held elsewhere. */
  rootState (root: CID | string): RefState {
    const state = this.c.refs.rootState(root) ?? 'ok'
    return state !== 'ok' && this.covered.get(root.toString())?.whole === true ? 'ok' : state
  }

  /** Find out (and remember) whether every block of `root` is here in a good file or a copy. */
  private async coverage (root: string): Promise<boolean> {
    let whole = true
    try {
      const cid = CID.parse(root)
      const load = async (c: CID): Promise<Uint8Array | undefined> => await this.c.blocks.get(c).then(b => b.bytes, () => undefined)
      for await (const step of walkDag([cid], load, { unique: true })) {
        if (isInterior(step.cid) ? step.bytes == null : !(await this.c.blocks.has(step.cid))) {
          whole = false
          break
        }
      }
    } catch {
      whole = false
    }
    const was = this.covered.get(root)?.whole
    this.covered.set(root, { whole, at: Date.now() })
    if (whole && was !== true) this.log('%s is still whole here: a changed or missing file of it is held elsewhere too', root)
    return whole
  }

  /**
   * Read back every leaf of `root` (each pinned root when none is given)
   * from every file that holds it and from the block store, and verify it.
   * A referenced file found intact is served again (with its new time); one
   * that is not stays `modified` or `missing`.
   */
  async verify (root?: CID, options: AbortOptions = {}): Promise<VerifyResult[]> {
    const roots: CID[] = []
    if (root != null) roots.push(root)
    else for await (const pin of this.c.pins.pins(options)) roots.push(pin.cid)
    const results: VerifyResult[] = []
    for (const r of roots) results.push(await this.verifyRoot(r, options))
    return results
  }

  private async verifyRoot (root: CID, options: AbortOptions): Promise<VerifyResult> {
    const files = this.c.refs.filesOf(root).filter(f => f.complete)
    const bad = new Map<string, number>(files.map(f => [f.id, 0]))
    const gone = new Set<string>()
    let leaves = 0
    let badLeaves = 0
    let copiesBad = 0
    const load = async (cid: CID): Promise<Uint8Array | undefined> => await this.c.blocks.get(cid, options).then(b => b.bytes, () => undefined)
    // each leaf is checked once, however often the file repeats it
    for await (const { cid } of walkDag([root], load, { unique: true, signal: options.signal })) {
      if (isInterior(cid)) continue
      leaves++
      let failed = false
      let found = false
      for (const file of files) {
        if (gone.has(file.id)) continue
        let bytes: Uint8Array | undefined
        try {
          bytes = await this.c.refs.readFrom(file, cid)
        } catch (err: any) {
          if (err.code === 'ENOENT') gone.add(file.id)
          bad.set(file.id, (bad.get(file.id) ?? 0) + 1)
          failed = true
          continue
        }
        if (bytes == null) continue
        found = true
        try {
          verifyBlock(cid, bytes)
        } catch (err) {
          if (!(err instanceof BlockVerificationError)) throw err
          bad.set(file.id, (bad.get(file.id) ?? 0) + 1)
          failed = true
        }
      }
      if (await this.c.blocks.hasCopy(cid)) {
        found = true
        // a rotten copy is dropped by the store, to be fetched again
        await this.c.blocks.get(cid, options).catch(() => { copiesBad++; failed = true })
      }
      if (failed || !found) badLeaves++
    }
    for (const file of files) {
      if (gone.has(file.id)) await this.c.refs.setState(file, 'missing', 'the file is gone')
      else if ((bad.get(file.id) ?? 0) > 0) await this.c.refs.setState(file, 'modified', `${bad.get(file.id)} leaves no longer match`)
      else await this.c.refs.restored(file)
    }
    const state = this.c.refs.rootState(root) ?? 'ok'
    return {
      cid: root.toString(),
      state: state === 'ok' && copiesBad > 0 ? 'damaged' : state,
      leaves,
      bad: badLeaves,
      files: this.c.refs.filesOf(root).map(f => ({ path: f.path, state: f.state }))
    }
  }

  /** A file changed state: its roots stop (or start again) being announced and offered as complete. */
  private async changed (file: RefFile): Promise<void> {
    for (const key of file.roots) {
      if ((this.c.refs.rootState(key) ?? 'ok') !== 'ok') await this.coverage(key)
      else this.covered.delete(key)
      const ok = this.servable(CID.parse(key))
      const pinned = [...this.c.announcer.roots()].find(r => r.toString() === key)
      if (!ok) {
        if (pinned != null) {
          this.log.error('no longer announcing %s: %s is %s', key, file.path, file.state)
          this.c.announcer.withdraw(pinned)
        }
        this.c.swarms.retireUnless(r => r.toString() !== key)
      } else {
        const cid = await this.pinnedCid(key)
        if (cid != null) this.c.announcer.announce(cid)
      }
    }
  }

  private async pinnedCid (key: string): Promise<CID | undefined> {
    for await (const pin of this.c.pins.pins()) if (pin.cid.toString() === key) return pin.cid
    return undefined
  }
}
