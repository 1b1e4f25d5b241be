/** One dial of a bootstrap peer (ms). */
export const BOOTSTRAP_DIAL_TIMEOUT = 10_000
/** While no bootstrap peer answered and no peer is connected, retries start after this and double… (ms) */
export const BOOTSTRAP_RETRY = 5_000
/** …up to this (ms). */
export const BOOTSTRAP_MAX_RETRY = 300_000

/** The IPFS DHT's protocol (Kubo, Helia, the public network). */
export const IPFS_DHT_PROTOCOL = '/ipfs/kad/1.0.0'

/**
 * The public IPFS bootstrap peers (Kubo's default list), dialled with
 * `ipfsBootstrap`. TCP addresses only: Shoal speaks TCP. The dnsaddr names
 * resolve through DNS, so a machine that cannot reach the internet gets
 * nothing from them.
 */
export const IPFS_BOOTSTRAP = [
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
]
