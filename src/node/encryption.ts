/**
 * How a Shoal peer encrypts its connections: TLS 1.3 first (OpenSSL's
 * AES-GCM or ChaCha20 over the whole record stream, one cipher context per
 * connection), noise as the fallback for peers that offer only noise (older
 * Shoal peers, most of the IPFS network). The dialler's order wins in
 * multistream-select, so a Shoal peer dialling a Helia node (noise, tls)
 * ends on TLS and a Helia node dialling Shoal ends on noise; both work.
 *
 * Noise itself runs with `cachedKeyCrypto`: stock noise imports the raw
 * session key into OpenSSL again for every frame it seals or opens (one per
 * 64 KiB of data, some 21 µs each); here each session key is imported once,
 * as a `KeyObject`, and reused for the life of the connection. The wire
 * format is the same (tested against stock noise, both directions).
 */
import crypto, { type KeyObject } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { tls } from '@libp2p/tls'
import { Uint8ArrayList } from 'uint8arraylist'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter } from '@libp2p/interface'

const CHACHA = 'chacha20-poly1305'
const TAG = 16

/**
 * Session keys, by the key's own bytes object: noise keeps one `Uint8Array`
 * per direction for a connection's whole life (its CipherState), so the
 * entry goes when the connection does. A copy of the bytes is kept beside
 * the imported key and compared on each use (32 bytes per 64 KiB frame): a
 * noise that changed a key in place would get the new key, never the old.
 */
const keys = new WeakMap<Uint8Array, { key: KeyObject, bytes: Buffer }>()

function keyOf (k: Uint8Array): KeyObject {
  const known = keys.get(k)
  if (known != null && known.bytes.equals(k)) return known.key
  const key = crypto.createSecretKey(k)
  keys.set(k, { key, bytes: Buffer.from(k) })
  return key
}

/**
 * Noise's node crypto with each session key imported once. The rest is as
 * stock noise does it: frames of fewer than 1200 bytes go to its WASM, and
 * a frame that arrives in pieces (a `Uint8ArrayList`) is sealed or opened
 * piece by piece into a list, never copied into one buffer first (a copy
 * per frame cost more than the key import saves).
 */
/** What noise takes back: its own version of `Uint8ArrayList`, which knows lists of other versions by a shared symbol. */
type Sealed = ReturnType<ICryptoInterface['chaCha20Poly1305Encrypt']>

export const cachedKeyCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < 1200) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    const cipher = crypto.createCipheriv(CHACHA, keyOf(k), nonce, { authTagLength: TAG })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    if (plaintext instanceof Uint8Array) {
      const sealed = cipher.update(plaintext)
      const final = cipher.final()
      const tag = cipher.getAuthTag()
      return Buffer.concat([sealed, final, tag], sealed.byteLength + final.byteLength + tag.byteLength)
    }
    const output = new Uint8ArrayList()
    for (const buf of plaintext) output.append(cipher.update(buf))
    const final = cipher.final()
    if (final.byteLength > 0) output.append(final)
    output.append(cipher.getAuthTag())
    return output as unknown as Sealed
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < 1200) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    const length = ciphertext.byteLength - TAG
    const decipher = crypto.createDecipheriv(CHACHA, keyOf(k), nonce, { authTagLength: TAG })
    decipher.setAAD(ad, { plaintextLength: length })
    decipher.setAuthTag(ciphertext.subarray(length))
    if (ciphertext instanceof Uint8Array) {
      const opened = decipher.update(ciphertext.subarray(0, length))
      const final = decipher.final()
      return final.byteLength === 0 ? opened : Buffer.concat([opened, final])
    }
    const output = new Uint8ArrayList()
    for (const buf of ciphertext.sublist(0, length)) output.append(decipher.update(buf))
    const final = decipher.final()
    if (final.byteLength > 0) output.append(final)
    return output as unknown as Sealed
  }
}

/** Noise with `cachedKeyCrypto`: what a Shoal peer speaks to a peer without TLS. */
export function shoalNoise (): ReturnType<typeof noise> {
  return noise({ crypto: cachedKeyCrypto })
}

/** A Shoal peer's connection encrypters, in the order it offers them. */
export function connectionEncrypters (): Array<(components: any) => ConnectionEncrypter> {
  return [tls(), shoalNoise()]
}
