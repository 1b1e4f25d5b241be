import { parseCID } from '../content/dag.js'
import { InputError } from '../errors.js'
import { pathSegments } from '../node/paths.js'
import type { ByteRange } from '../content/file-reader.js'
import type { DagScope } from '../node/reads.js'
import type { CID } from 'multiformats/cid'

/** What a gateway request asks for, parsed and checked (anything malformed is an InputError: 400). */
export interface GatewayRequest {
  cid: CID
  path: string[]
  /** `raw` one block, `car` a CAR, `file` the content itself (deserialized). */
  format: 'raw' | 'car' | 'file'
  dagScope: DagScope
  /** `entity-bytes`, as given (negative numbers count from the end): resolved against the file's size. */
  entityBytes?: { from: number, to: number | '*' }
  /** Only the headers (`HEAD`). */
  head: boolean
}

export const RAW_TYPE = 'application/vnd.ipld.raw'
export const CAR_TYPE = 'application/vnd.ipld.car'

/** The format an `Accept` header asks for, by its first Bitswap/IPLD media type (or none). */
function formatFromAccept (accept: string | undefined): 'raw' | 'car' | undefined {
  for (const part of (accept ?? '').split(',')) {
    const [type, ...params] = part.trim().split(';').map(s => s.trim())
    if (type === RAW_TYPE) return 'raw'
    if (type === CAR_TYPE) {
      const version = params.find(p => p.startsWith('version='))
      if (version != null && version !== 'version=1') throw new InputError(`only CAR version 1 is served, not ${version}`)
      return 'car'
    }
  }
  return undefined
}

/**
 * Parse `/ipfs/{cid}[/path]` with `?format=`, `dag-scope`, `entity-bytes`
 * and the `Accept` header, as the trustless gateway specification reads them.
 */
export function parseGatewayRequest (method: string, url: URL, accept: string | undefined): GatewayRequest {
  const segments = url.pathname.split('/')
  if (segments[1] !== 'ipfs' || segments.length < 3 || segments[2] === '') {
    throw new InputError('expected /ipfs/{cid}[/path]')
  }
  let decoded: string[]
  try {
    decoded = segments.slice(2).map(s => decodeURIComponent(s))
  } catch {
    throw new InputError('the path is not valid percent-encoding')
  }
  const cid = parseCID(decoded[0])
  const path = pathSegments(decoded.slice(1))
  const query = url.searchParams.get('format')
  let format: GatewayRequest['format']
  if (query != null && query !== '') {
    if (query !== 'raw' && query !== 'car') throw new InputError(`format=${query} is not served (raw or car)`)
    format = query
  } else {
    format = formatFromAccept(accept) ?? 'file'
  }
  const scope = url.searchParams.get('dag-scope') ?? 'all'
  if (scope !== 'block' && scope !== 'entity' && scope !== 'all') throw new InputError(`dag-scope=${scope}: expected block, entity or all`)
  const bytes = url.searchParams.get('entity-bytes')
  return { cid, path, format, dagScope: scope, entityBytes: bytes == null ? undefined : parseEntityBytes(bytes), head: method === 'HEAD' }
}

function parseEntityBytes (text: string): { from: number, to: number | '*' } {
  const match = /^(-?\d+):(-?\d+|\*)$/.exec(text)
  if (match == null) throw new InputError(`entity-bytes=${text}: expected from:to (to may be *)`)
  const from = Number(match[1])
  const to = match[2] === '*' ? '*' : Number(match[2])
  if (!Number.isSafeInteger(from) || (to !== '*' && !Number.isSafeInteger(to))) throw new InputError(`entity-bytes=${text}: out of range`)
  return { from, to }
}

/** `entity-bytes` against a file of `size` bytes, as a half-open range (the spec's `to` is inclusive). */
export function entityRange (bytes: { from: number, to: number | '*' }, size: number): ByteRange {
  const from = bytes.from < 0 ? Math.max(0, size + bytes.from) : Math.min(bytes.from, size)
  const last = bytes.to === '*' ? size - 1 : bytes.to < 0 ? size + bytes.to : Math.min(bytes.to, size - 1)
  if (last < from && size > 0) throw new InputError(`entity-bytes ${bytes.from}:${bytes.to} selects nothing of ${size} bytes`)
  return { from, to: last + 1 }
}

/**
 * An HTTP `Range` of a file of `size` bytes: one range (`bytes=a-b`, `a-`,
 * `-n`), as a half-open range; undefined for none (or one not in bytes);
 * `unsatisfiable` for one past the end (416).
 */
export function parseRange (header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header == null) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (match == null) return undefined // several ranges, or another unit: the whole file, as RFC 9110 allows
  const [, a, b] = match
  if (a === '' && b === '') return undefined
  if (a === '') {
    const n = Number(b)
    if (n === 0) return 'unsatisfiable'
    return { from: Math.max(0, size - n), to: size }
  }
  const from = Number(a)
  if (from >= size) return 'unsatisfiable'
  const to = b === '' ? size : Math.min(size, Number(b) + 1)
  if (to <= from) return 'unsatisfiable'
  return { from, to }
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  xml: 'application/xml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  ico: 'image/x-icon',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mov: 'video/quicktime',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  wasm: 'application/wasm',
  csv: 'text/csv; charset=utf-8'
}

/** Leading bytes of common formats, for files whose name says nothing. */
const MAGIC: Array<[number[], string, number?]> = [
  [[0x89, 0x50, 0x4e, 0x47], 'image/png'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38], 'image/gif'],
  [[0x25, 0x50, 0x44, 0x46], 'application/pdf'],
  [[0x50, 0x4b, 0x03, 0x04], 'application/zip'],
  [[0x1f, 0x8b], 'application/gzip'],
  [[0x1a, 0x45, 0xdf, 0xa3], 'video/webm'],
  [[0x66, 0x74, 0x79, 0x70], 'video/mp4', 4],
  [[0x49, 0x44, 0x33], 'audio/mpeg']
]

/**
 * A file's media type: from its name's extension, else from its first
 * bytes, else `text/plain` for UTF-8 text without control bytes, else
 * `application/octet-stream`.
 */
export function contentTypeOf (name: string | undefined, head: Uint8Array): string {
  const ext = name?.includes('.') === true ? name.split('.').pop()!.toLowerCase() : undefined
  if (ext != null && TYPES[ext] != null) return TYPES[ext]
  for (const [magic, type, at = 0] of MAGIC) {
    if (head.byteLength >= at + magic.length && magic.every((b, i) => head[at + i] === b)) return type
  }
  if (head.byteLength > 0 && isText(head)) return 'text/plain; charset=utf-8'
  return 'application/octet-stream'
}

function isText (bytes: Uint8Array): boolean {
  const sample = bytes.subarray(0, 512)
  for (const b of sample) if (b < 0x09 || (b > 0x0d && b < 0x20 && b !== 0x1b)) return false
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, lastWholeChar(sample)))
    return true
  } catch {
    return false
  }
}

/** Where the last whole UTF-8 character of a sample ends (a sample may cut one). */
function lastWholeChar (bytes: Uint8Array): number {
  const end = bytes.byteLength
  for (let i = 1; i <= 3 && end - i >= 0; i++) {
    const b = bytes[end - i]
    if ((b & 0xc0) === 0xc0) return end - i
    if ((b & 0x80) === 0) break
  }
  return end
}
