import { isLoopback, isPrivate } from '@libp2p/utils'
import type { Address } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const isRelayed = (addr: Multiaddr): boolean => addr.toString().includes('/p2p-circuit')
const isWebRTC = (addr: Multiaddr): boolean => addr.toString().includes('/p2p-circuit/webrtc')

/**
 * The order libp2p dials a peer's addresses in (one after another, each
 * for at most 6 s). A peer that announces relayed addresses is behind a
 * NAT: its private addresses are of its own LAN, which from anywhere else
 * lead nowhere (a dial of one waited out its 6 s, measured in the host lab,
 * before the relay was tried), so they go last. Otherwise: public
 * addresses, private ones (a LAN, the lab), a hole punched through WebRTC,
 * the relay, loopback. (A comparator: libp2p sorts with it.)
 */
export function dialOrder (a: Address, b: Address): -1 | 0 | 1 {
  // one relayed address of the two is enough to know the peer is behind a NAT
  const behindNat = isRelayed(a.multiaddr) || isRelayed(b.multiaddr)
  const d = rank(a.multiaddr, behindNat) - rank(b.multiaddr, behindNat)
  return d < 0 ? -1 : d > 0 ? 1 : 0
}

function rank (ma: Multiaddr, behindNat: boolean): number {
  if (isWebRTC(ma)) return 2
  if (isRelayed(ma)) return 3
  if (isLoopback(ma)) return 5
  if (isPrivate(ma) === true) return behindNat ? 4 : 1
  return 0
}
