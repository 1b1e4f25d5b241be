import * as raw from 'multiformats/codecs/raw'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { RefFile, RefStore } from '../store/refs/ref-store.js'
import type { BufferImporter } from 'ipfs-unixfs-importer'

/**
 * An importer step that keeps an added file's leaves where they are: each
 * chunk becomes a raw leaf whose CID is computed here and whose place in the
 * file (offset, length) is recorded in the reference store, instead of a
 * copy of its bytes going to the block store. Interior nodes are built and
 * stored by the importer as usual. `pathOf` maps an import path to the file
 * it was read from; the records made are collected in `files`.
 */
export function referencingImporter (refs: RefStore, pathOf: (importPath: string) => string, files: Map<string, Promise<RefFile>>): BufferImporter {
  return async function * (file) {
    const source = pathOf(file.originalPath ?? file.path ?? '')
    let offset = 0
    for await (const chunk of file.content) {
      const at = offset
      offset += chunk.byteLength
      yield async () => {
        const cid = CID.createV1(raw.code, await sha256.digest(chunk))
        await refs.put(cid, await record(refs, source, files), at, chunk.byteLength)
        return { cid, size: BigInt(chunk.byteLength), block: chunk }
      }
    }
  }
}

/** The record for a source file, made once per import. */
async function record (refs: RefStore, path: string, files: Map<string, Promise<RefFile>>): Promise<RefFile> {
  let file = files.get(path)
  if (file == null) {
    file = refs.addFile(path, { owned: false, complete: false })
    files.set(path, file)
  }
  return await file
}
