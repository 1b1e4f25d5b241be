import fs from 'node:fs/promises'
import { preSharedKey } from '@libp2p/pnet'
import { ConfigError } from '../errors.js'

/** The pre-shared key of a private swarm, checked; undefined for an open swarm (`file` empty). */
export async function readSwarmKey (file: string): Promise<Uint8Array | undefined> {
  if (file === '') return undefined
  let key: Uint8Array
  try {
    key = await fs.readFile(file)
  } catch (err: any) {
    throw new ConfigError(`cannot read the swarm key ${file}: ${err.code ?? err.message}`)
  }
  try {
    // the protector parses the key when it is built: build one to check it
    preSharedKey({ psk: key })()
  } catch (err: any) {
    throw new ConfigError(`${file} is not a libp2p swarm key (make one with: shoal swarm-key > swarm.key): ${err.message}`)
  }
  return key
}
