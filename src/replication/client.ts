import { NotMemberError } from '../errors.js'
import { ReplicaOp } from '../protocol/replica-network.js'
import { decodeCID } from '../content/dag.js'
import { entryOf, fragmentFrom, holderList, plusOne, stateName } from './codec.js'
import type { AnswerState } from './codec.js'
import type { ReplicationGroup } from './group.js'
import type { PeerLiveness } from './peer-liveness.js'
import type { RootView } from './root-view.js'
import type { ReplicaMessage, ReplicaNetwork } from '../protocol/replica-network.js'
import type { Logger, PeerId } from '@libp2p/interface'

export interface ReplicaClientComponents {
  self: PeerId
  network: ReplicaNetwork
  group: ReplicationGroup
  liveness: PeerLiveness
  log: Logger
}

/** What a peer answered about a root: its state, or why there is none. */
export type AskResult = AnswerState | 'unreachable' | 'not-member'

/** An answer to a request about one root: the state, and the reason the peer gave, if any. */
export interface Answer {
  state: AskResult
  reason: string
  /** Of an erasure-coded root: the fragment the peer says it keeps. */
  fragment?: number
}

/**
 * Our side of `/shoal/replica/1.0.0` requests: every request carries our
 * proof of membership, and an answer counts only if it carries the
 * answerer's (otherwise NotMemberError), so a peer outside the group can
 * never pass for a holder.
 */
export class ReplicaClient {
  constructor (private readonly c: ReplicaClientComponents) {}

  async request (peer: PeerId, msg: ReplicaMessage, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<ReplicaMessage> {
    const response = await this.c.network.request(peer, this.c.group.seal(msg, this.c.self, peer), options)
    if (!this.c.group.admits(response, peer, this.c.self)) {
      throw new NotMemberError(`${peer.toString()} is not in this peer's replication group`)
    }
    return response
  }

  /** Send one request about one root; the peer's resulting state. */
  async ask (peer: PeerId, view: RootView, op: ReplicaOp, holders: PeerId[], signal: AbortSignal, timeout?: number): Promise<AskResult> {
    return (await this.answer(peer, view, op, holders, signal, timeout)).state
  }

  /** Like `ask`, with the reason the peer gave (or why there is no answer). */
  async answer (peer: PeerId, view: RootView, op: ReplicaOp, holders: PeerId[], signal: AbortSignal, timeout?: number, fragment?: number): Promise<Answer> {
    try {
      const named = holderList(view.root, holders.filter(p => !p.equals(peer)))
      const entry = {
        ...entryOf(view, this.c.self, this.c.liveness),
        holders: named.map(p => p.toMultihash().bytes),
        holderFragments: view.erasure == null ? [] : named.map(p => plusOne(view.holders.get(p.toString())?.fragment)),
        // a REPLICATE of an erasure-coded root names the fragment asked for
        ...(fragment == null ? {} : { fragment: plusOne(fragment) })
      }
      const response = await this.request(peer, { op, roots: [entry], proof: new Uint8Array(0) }, { signal, timeout })
      this.c.liveness.seen(peer.toString())
      const answer = response.roots.find(r => decodeCID(r.root).equals(view.root))
      if (answer == null) return { state: 'none', reason: '' }
      const theirs = view.erasure == null ? undefined : fragmentFrom(answer.fragment, view.erasure.k + view.erasure.m)
      return { state: stateName(answer.state), reason: answer.reason, ...(theirs == null ? {} : { fragment: theirs }) }
    } catch (err: any) {
      if (err.name === 'NotMemberError') return { state: 'not-member', reason: 'not in this peer\'s replication group' }
      if (!signal.aborted) {
        this.c.log('%p did not answer about %s: %s', peer, view.root, err.message)
        this.c.liveness.failed(peer.toString())
      }
      return { state: 'unreachable', reason: err.message }
    }
  }
}

export { ReplicaOp }
