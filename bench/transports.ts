/**
 * The connection encrypters the raw-stream baselines can be run with:
 * Shoal's own (TLS first, noise with each session key imported once), each
 * alone, and noise as libp2p ships it (what Shoal ran before).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { tls } from '@libp2p/tls'
import { connectionEncrypters, shoalNoise } from '../src/node/encryption.js'
import type { ConnectionEncrypter } from '@libp2p/interface'

const ENCRYPTERS = {
  shoal: connectionEncrypters,
  tls: () => [tls()],
  noise: () => [shoalNoise()],
  'stock-noise': () => [noise()]
} satisfies Record<string, () => Array<(components: any) => ConnectionEncrypter>>

export type EncrypterName = keyof typeof ENCRYPTERS

export function encryptersOf (name: string): Array<(components: any) => ConnectionEncrypter> {
  const make = (ENCRYPTERS as Record<string, () => Array<(components: any) => ConnectionEncrypter>>)[name]
  if (make == null) throw new Error(`no encrypter ${name}: one of ${Object.keys(ENCRYPTERS).join(', ')}`)
  return make()
}

/** yamux's settings for a raw-stream run: its defaults, or those in BENCH_YAMUX (JSON), to measure them. */
export function yamuxOptions (): Record<string, number> {
  return JSON.parse(process.env.BENCH_YAMUX ?? '{}')
}
