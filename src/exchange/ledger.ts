/** Bytes and blocks exchanged with each peer since the daemon started. */
export interface PeerTally {
  bytesSent: number
  blocksSent: number
  bytesReceived: number
  blocksReceived: number
}

export class Ledger {
  private readonly peers = new Map<string, PeerTally>()
  readonly total: PeerTally = { bytesSent: 0, blocksSent: 0, bytesReceived: 0, blocksReceived: 0 }

  sent (peer: string, bytes: number): void {
    const t = this.tally(peer)
    t.bytesSent += bytes
    t.blocksSent++
    this.total.bytesSent += bytes
    this.total.blocksSent++
  }

  received (peer: string, bytes: number): void {
    const t = this.tally(peer)
    t.bytesReceived += bytes
    t.blocksReceived++
    this.total.bytesReceived += bytes
    this.total.blocksReceived++
  }

  get (peer: string): PeerTally | undefined {
    return this.peers.get(peer)
  }

  private tally (peer: string): PeerTally {
    let t = this.peers.get(peer)
    if (t == null) {
      t = { bytesSent: 0, blocksSent: 0, bytesReceived: 0, blocksReceived: 0 }
      this.peers.set(peer, t)
    }
    return t
  }
}
