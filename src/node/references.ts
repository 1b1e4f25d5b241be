import { isInterior } from '../content/dag.js'
import { walkDag } from '../content/dag-walk.js'
import { verifyBlock } from '../content/verify.js'
import { BlockVerificationError } from '../errors.js'
import { REF_CHECK_INTERVAL } from '../store/constants.js'
import { COVERAGE_RECHECK, COVERAGE_RECHECK_MAX } from './constants.js'
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
  /** Whether anything keeps a root now (gc's rule): a root served again is announced again only then. */
  isKept(root: CID): Promise<boolean>
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
  private readonly covered = new Map<string, { whole: boolean, at: number, tries: number }>()
  /** Roots a file of which changed state, handled once each however many of their files did. */
  private readonly dirty = new Set<string>()
  private handling?: Promise<void>
  private readonly onState = (evt: CustomEvent<{ file: RefFile, was: RefState }>): void => {
    for (const root of evt.detail.file.roots) this.dirty.add(root)
    this.handleSoon()
  }

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
    await this.handling
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
        const cid = CID.parse(root)
        if (await this.c.pins.isPinned(cid)) await this.verifyRoot(cid, {})
      }
      // roots with a changed or missing file: still whole here through another copy? (found out
      // again after a while, less often while the answer is no)
      const bad = new Set(this.c.refs.list().filter(f => f.state !== 'ok').flatMap(f => f.roots))
      for (const root of this.covered.keys()) if (!bad.has(root)) this.covered.delete(root)
      const now = Date.now()
      for (const root of bad) {
        const known = this.covered.get(root)
        const wait = known == null ? 0 : known.whole ? COVERAGE_RECHECK : Math.min(COVERAGE_RECHECK_MAX, COVERAGE_RECHECK * 2 ** known.tries)
        if (known == null || now - known.at >= wait) {
          const was = this.servable(CID.parse(root))
          await this.coverage(root)
          if (this.servable(CID.parse(root)) !== was) this.dirty.add(root)
        }
      }
      this.handleSoon()
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
    const known = this.covered.get(root)
    this.covered.set(root, { whole, at: Date.now(), tries: whole || known == null ? 0 : known.tries + 1 })
    if (whole && known?.whole !== true) this.log('%s is still whole here: a changed or missing file of it is held elsewhere too', root)
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

  /** Handle the roots marked dirty, each once, in the background (one run at a time). */
  private handleSoon (): void {
    if (this.dirty.size === 0) return
    this.handling ??= (async () => {
      // a storm of state events (a folder of files deleted) lands before the first is handled
      await new Promise(resolve => setImmediate(resolve))
      while (this.dirty.size > 0) {
        const roots = [...this.dirty]
        this.dirty.clear()
        for (const root of roots) await this.changed(root)
      }
    })().catch(err => { this.log.error('handling changed files failed: %s', err.message) }).finally(() => { this.handling = undefined })
  }

  /** A file of `key` changed state: the root stops (or starts again) being announced and offered as complete. */
  private async changed (key: string): Promise<void> {
    if ((this.c.refs.rootState(key) ?? 'ok') !== 'ok') await this.coverage(key)
    else this.covered.delete(key)
    const cid = CID.parse(key)
    if (!this.servable(cid)) {
      if (this.c.announcer.roots().some(r => r.equals(cid))) this.log.error('no longer announcing %s: a file it is served from is %s', key, this.c.refs.rootState(key))
      // withdrawn whether announced in this run or before it (the DHT renews what it was told)
      this.c.announcer.withdraw(cid)
      this.c.swarms.retireUnless(r => r.toString() !== key)
    } else if (await this.c.isKept(cid)) {
      this.c.announcer.announce(cid)
    }
  }
}
