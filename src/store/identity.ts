import fs from 'node:fs/promises'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { RepoError } from '../errors.js'
import type { PrivateKey } from '@libp2p/interface'

/**
 * Load the peer's ed25519 key from `file`, or create it (mode 0600) when the
 * file does not exist. The same key means the same PeerId after a restart.
 */
export async function loadOrCreateIdentity (file: string): Promise<PrivateKey> {
  try {
    const bytes = await fs.readFile(file)
    return privateKeyFromProtobuf(bytes)
  } catch (err: any) {
    if (err.code !== 'ENOENT') {
      throw new RepoError(`cannot read identity key ${file}: ${err.message}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${file}.tmp-${process.pid}`
  await fs.writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 })
  await fs.rename(tmp, file)
  return key
}

/** The PeerId of the repo whose identity key is `file` (the key must exist). */
export async function readPeerId (file: string): Promise<string> {
  let bytes: Uint8Array
  try {
    bytes = await fs.readFile(file)
  } catch (err: any) {
    throw new RepoError(err.code === 'ENOENT' ? `no identity key at ${file}` : `cannot read identity key ${file}: ${err.message}`)
  }
  const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
  return peerIdFromPrivateKey(privateKeyFromProtobuf(bytes)).toString()
}
