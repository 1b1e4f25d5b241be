import { ProtocolViolationError } from '../errors.js'
import { UploadSlots } from './upload-slots.js'
import type { Ledger } from './ledger.js'
import type { BlockNetwork, ServeChannel } from '../protocol/block-network.js'
import type { BlockStore } from '../store/block-store.js'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface BlockServerComponents {
  network: BlockNetwork
  blocks: BlockStore
  ledger: Ledger
  logger: ComponentLogger
}

export interface BlockServerInit {
  /** Requests one stream may have queued with us; more closes the stream. */
  maxRequestsPerPeer: number
  /** Blocks read and sent at once across all peers. */
  maxConcurrentUploads: number
  /** Blocks one stream may have being read and sent at once. */
  readAhead?: number
}

/**
 * Answers other peers' block requests from the local store. Each inbound
 * stream has a bounded queue of wanted CIDs; a shared pool of upload slots,
 * granted in arrival order, bounds the work across peers. Blocks are
 * verified as they are read: a block that fails is answered "don't have".
 */
export class BlockServer implements Startable {
  private readonly components: BlockServerComponents
  private readonly log: Logger
  private readonly slots: UploadSlots
  private readonly maxRequestsPerPeer: number
  private readonly readAhead: number
  private readonly controller = new AbortController()
  private readonly channels = new Set<ServeChannel>()

  constructor (components: BlockServerComponents, init: BlockServerInit) {
    this.components = components
    this.log = components.logger.forComponent('shoal:block-server')
    this.slots = new UploadSlots(init.maxConcurrentUploads)
    this.maxRequestsPerPeer = init.maxRequestsPerPeer
    this.readAhead = init.readAhead ?? 2
  }

  start (): void {
    this.components.network.onInbound(channel => { this.serve(channel) })
  }

  stop (): void {
    this.controller.abort()
    for (const channel of this.channels) {
      channel.abort(new Error('daemon stopping'))
    }
    this.channels.clear()
  }

  /** Blocks being uploaded right now. */
  get activeUploads (): number {
    return this.slots.inUse
  }

  private serve (channel: ServeChannel): void {
    const queue = new Map<string, CID>()
    let workers = 0
    let open = true
    this.channels.add(channel)
    const peer = channel.peer.toString()

    const work = async (): Promise<void> => {
      workers++
      try {
        while (open && queue.size > 0) {
          const release = await this.slots.acquire(this.controller.signal)
          try {
            const next = queue.entries().next()
            if (next.done === true) break
            const [key, cid] = next.value
            queue.delete(key)
            await this.answer(channel, peer, cid)
          } finally {
            release()
          }
        }
      } catch (err: any) {
        if (open) {
          this.log('serving %s stopped: %s', peer, err.message)
          channel.abort(err)
        }
      } finally {
        workers--
      }
    }

    channel.listen({
      onRequest: (want, cancel) => {
        for (const cid of cancel) {
          queue.delete(cid.toString())
        }
        for (const cid of want) {
          queue.set(cid.toString(), cid)
        }
        if (queue.size > this.maxRequestsPerPeer) {
          this.log('peer %s queued %d requests, more than %d; closing stream', peer, queue.size, this.maxRequestsPerPeer)
          open = false
          queue.clear()
          channel.abort(new ProtocolViolationError('too many requests in flight'))
          return
        }
        while (workers < this.readAhead && queue.size > workers) {
          void work()
        }
      },
      onClose: (err) => {
        open = false
        queue.clear()
        this.channels.delete(channel)
        if (err != null) this.log('stream from %s closed: %s', peer, err.message)
      }
    })
  }

  private async answer (channel: ServeChannel, peer: string, cid: CID): Promise<void> {
    let block
    try {
      block = await this.components.blocks.get(cid, { signal: this.controller.signal })
    } catch (err: any) {
      this.log.trace('no usable copy of %s for %s: %s', cid, peer, err.message)
      await channel.sendDontHave([cid])
      return
    }
    await channel.sendBlock(block)
    this.components.ledger.sent(peer, block.bytes.byteLength)
  }
}
