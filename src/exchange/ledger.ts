/** Bytes and blocks exchanged with each peer since the daemon started. */
export interface PeerTally {
  bytesSent: number
  blocksSent: number
  bytesReceived: number
  blocksReceived: number
}

export class Ledger {
  private readonly peers = new Map<string, PeerTally>()
  readonly total: PeerTally = emptyTally()
  /** The same totals by block protocol (`/shoal/blocks/1.0.0`, `/ipfs/bitswap/1.2.0`): a handful of keys. */
  readonly byProtocol = new Map<string, PeerTally>()

  sent (peer: string, bytes: number, protocol: string): void {
    for (const t of [this.tally(peer), this.total, this.ofProtocol(protocol)]) {
      t.bytesSent += bytes
      t.blocksSent++
    }
  }

  received (peer: string, bytes: number, protocol: string): void {
    for (const t of [this.tally(peer), this.total, this.ofProtocol(protocol)]) {
      t.bytesReceived += bytes
      t.blocksReceived++
    }
  }

  get (peer: string): PeerTally | undefined {
    return this.peers.get(peer)
  }

  private tally (peer: string): PeerTally {
    let t = this.peers.get(peer)
    if (t == null) {
      t = emptyTally()
      this.peers.set(peer, t)
    }
    return t
  }

  private ofProtocol (protocol: string): PeerTally {
    let t = this.byProtocol.get(protocol)
    if (t == null) {
      t = emptyTally()
      this.byProtocol.set(protocol, t)
    }
    return t
  }
}

function emptyTally (): PeerTally {
  return { bytesSent: 0, blocksSent: 0, bytesReceived: 0, blocksReceived: 0 }
}
