import { ReplicaOp } from '../protocol/replica-network.js'
import { DECLINED_TTL, MAX_ASKS_PER_ROUND, NOT_MEMBER_TTL, RETRY_SILENT_PEER_AFTER } from './constants.js'
import { expire } from './expiry.js'
import { byDistance } from './keyspace.js'
import type { Answer, AskResult } from './client.js'
import type { ReplicaComponents } from './components.js'
import type { RootView } from './root-view.js'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface PlacementComponents extends ReplicaComponents {
  /**
   * Peers that may take a replica of `root`: connected ones, known speakers
   * of the protocol, and the root's closest peers in the DHT (always when
   * `thorough`, else only when few peers are known locally).
   */
  candidates(root: CID, options: AbortOptions & { thorough?: boolean }): Promise<PeerId[]>
}

/** What a placement did. */
export interface PlaceResult {
  /** Peers that took a copy. */
  placed: number
  /** Peers that might take one later: not asked this time, or not reachable now. */
  untried: number
  /** Why the peers asked declined (their reasons, or that they are not in our group). */
  reasons: string[]
}

function isHolder (state: AskResult): boolean {
  return state === 'fetching' || state === 'complete'
}

/**
 * Where copies go: the live peers closest to the root that accept, asked
 * one after the other; and which go: a leader's RELEASE of a surplus copy.
 * One placement per root at a time, whoever starts it (the first placement,
 * a repair, a hand-over), so copies are never placed twice over.
 */
export class Placement {
  private readonly c: PlacementComponents
  /** `root/peer` → until when that peer is not asked again for that root (it declined, or is not in our group). */
  private readonly declined = new Map<string, number>()
  private readonly placing = new Set<string>()

  constructor (components: PlacementComponents) {
    this.c = components
  }

  isPlacing (root: CID): boolean {
    return this.placing.has(root.toString())
  }

  /**
   * The first placement of a root this peer holds: ask the closest peers
   * (a fresh DHT lookup of the root's neighbourhood) until `min` of those
   * at least as close as this peer, this peer included, hold it.
   */
  async first (view: RootView, signal: AbortSignal): Promise<PeerId[]> {
    return await this.exclusively(view.root, async () => {
      const candidates = await this.c.candidates(view.root, { signal, thorough: true })
      const ordered = byDistance(view.root, [this.c.self, ...candidates.filter(p => !p.equals(this.c.self))].map(peer => ({ peer })))
      const holders: PeerId[] = []
      for (const { peer } of ordered) {
        if (holders.length >= view.min || signal.aborted) break
        // an erasure-coded root: fragment i goes to the i-th closest peer that takes one, distinct peers all
        const fragment = view.erasure == null ? undefined : holders.length
        if (peer.equals(this.c.self)) {
          if (fragment != null) view.set(peer, 'complete', undefined, fragment)
          holders.push(peer)
        } else if (isHolder((await this.offer(view, peer, holders, signal, fragment)).state)) {
          holders.push(peer)
        }
      }
      // the adder's whole copy counts until the closest peers have theirs; an adder that keeps no fragment keeps nothing of the root
      if (view.erasure == null && !holders.some(p => p.equals(this.c.self))) holders.push(this.c.self)
      // every holder learns of every other, including those placed after it
      await Promise.all(holders.filter(p => !p.equals(this.c.self)).map(async peer => {
        await this.c.client.ask(peer, view, ReplicaOp.STATUS, holders, signal)
      }))
      return holders
    }) ?? []
  }

  /**
   * Ask the closest live non-holders to take `count` more copies; resolves
   * with how many did, how many peers might still take one later (not
   * asked this time, or not reachable now), and why those asked did not.
   */
  async place (view: RootView, count: number, signal: AbortSignal, fragments?: number[]): Promise<PlaceResult> {
    return await this.exclusively(view.root, async () => {
      const key = view.root.toString()
      const now = Date.now()
      expire(this.declined, now)
      const candidates = (await this.c.candidates(view.root, { signal })).filter(peer => {
        const k = peer.toString()
        return !peer.equals(this.c.self) && !view.has(k) && (this.declined.get(`${key}/${k}`) ?? 0) < now
      })
      // live peers first, closest first; then peers silent for long (they may be back)
      const live = candidates.filter(p => this.c.liveness.isUp(p.toString()))
      const silent = candidates.filter(p => this.c.liveness.downFor(p.toString(), now) >= RETRY_SILENT_PEER_AFTER)
      const ordered = [...byDistance(view.root, live.map(peer => ({ peer }))), ...byDistance(view.root, silent.map(peer => ({ peer })))]
      const result: PlaceResult = { placed: 0, untried: 0, reasons: [] }
      let asked = 0
      for (const { peer } of ordered) {
        if (result.placed >= count || asked >= MAX_ASKS_PER_ROUND || signal.aborted) break
        asked++
        const holders = [...view.holders.values()].map(h => h.peer).filter(p => this.c.liveness.isUp(p.toString()))
        const { state, reason } = await this.offer(view, peer, holders, signal, fragments?.[result.placed])
        if (isHolder(state)) result.placed++
        else if (state === 'declined' || state === 'not-member') result.reasons.push(reason)
        else result.untried++
      }
      result.untried += ordered.length - asked
      return result
    }) ?? { placed: 0, untried: 1, reasons: [] }
  }

  /** Tell each of `peers` to let its copy go (the leader trimming a surplus). */
  async release (view: RootView, peers: PeerId[], signal: AbortSignal): Promise<void> {
    const copies = view.holders.size
    await Promise.all(peers.map(async peer => {
      const state = await this.c.client.ask(peer, view, ReplicaOp.RELEASE, [], signal)
      if (state !== 'none') return
      this.c.log('released the copy of %s on %p (more than %d)', view.root, peer, view.max)
      this.c.book.releasedFrom(view, peer)
      this.c.events.safeDispatchEvent('trim', { detail: { root: view.root.toString(), peer: peer.toString(), copies, max: view.max } })
    }))
    view.overSince = undefined
  }

  /** Ask `peer` to keep a copy (of an erasure-coded root: `fragment`); its answer. */
  private async offer (view: RootView, peer: PeerId, holders: PeerId[], signal: AbortSignal, fragment?: number): Promise<Answer> {
    const answer = await this.c.client.answer(peer, view, ReplicaOp.REPLICATE, holders, signal, undefined, fragment)
    const { state, reason } = answer
    const key = `${view.root.toString()}/${peer.toString()}`
    if (fragment != null && answer.fragment != null && answer.fragment !== fragment && (state === 'fetching' || state === 'complete')) {
      // it keeps another fragment of this root already: counted as what it keeps, not as placed
      view.set(peer, state, undefined, answer.fragment)
      this.c.book.changed(view.root.toString())
      return { state: 'declined', reason: `keeps fragment ${answer.fragment} already` }
    }
    if (state === 'fetching' || state === 'complete') {
      view.set(peer, state, undefined, fragment)
      this.c.book.changed(view.root.toString())
      if (fragment == null) this.c.log('%p took a copy of %s (%s)', peer, view.root, state)
      else this.c.log('%p took fragment %d of %s (%s)', peer, fragment, view.root, state)
      this.c.events.safeDispatchEvent('repair:placed', { detail: { root: view.root.toString(), peer: peer.toString(), state, ...(fragment == null ? {} : { fragment }) } })
      return answer
    }
    if (state === 'declined') this.declined.set(key, Date.now() + DECLINED_TTL)
    if (state === 'not-member') this.declined.set(key, Date.now() + NOT_MEMBER_TTL)
    if (state === 'declined' || state === 'not-member') {
      this.c.events.safeDispatchEvent('repair:declined', { detail: { root: view.root.toString(), peer: peer.toString(), reason } })
    }
    return answer
  }

  /** Run `work` unless a placement of the same root is running; undefined if one is. */
  private async exclusively<T> (root: CID, work: () => Promise<T>): Promise<T | undefined> {
    const key = root.toString()
    if (this.placing.has(key)) return undefined
    this.placing.add(key)
    try {
      return await work()
    } catch (err: any) {
      this.c.log('placing %s failed: %s', key, err.message)
      return undefined
    } finally {
      this.placing.delete(key)
    }
  }
}
