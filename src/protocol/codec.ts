import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolViolationError } from '../errors.js'
import { Request, Response } from './pb/blocks.js'
import { MAX_CIDS_PER_REQUEST, MAX_ENTRIES_PER_RESPONSE } from './constants.js'

/** Frame a protobuf message with its unsigned-varint length, as one buffer list (no copy of the body). */
export function frame (body: Uint8Array): Uint8ArrayList {
  return new Uint8ArrayList(varint.encode(body.byteLength), body)
}

export function encodeRequest (req: Partial<Request>): Uint8ArrayList {
  return frame(Request.encode({ want: req.want ?? [], cancel: req.cancel ?? [] }))
}

export function encodeResponse (res: Partial<Response>): Uint8ArrayList {
  return frame(Response.encode({ blocks: res.blocks ?? [], dontHave: res.dontHave ?? [] }))
}

/**
 * A Response holding one block, framed, with the block's bytes referenced
 * rather than copied: the protobuf header (Response.blocks[0] = Block { cid,
 * data }) is written by hand in front of them. The same bytes
 * `encodeResponse({ blocks: [{ cid, data }] })` gives, one 1 MiB copy fewer.
 */
export function encodeBlockResponse (cid: Uint8Array, data: Uint8Array): Uint8ArrayList {
  // proto3 leaves empty fields out: nothing to save there, so as protons does it
  if (cid.byteLength === 0 || data.byteLength === 0) return encodeResponse({ blocks: [{ cid: cid as Uint8Array<ArrayBuffer>, data: data as Uint8Array<ArrayBuffer> }] })
  // Block: field 1 (cid), field 2 (data), both length-delimited
  const blockLength = 1 + varint.encodingLength(cid.byteLength) + cid.byteLength + 1 + varint.encodingLength(data.byteLength) + data.byteLength
  // Response: field 1 (blocks), length-delimited
  const responseLength = 1 + varint.encodingLength(blockLength) + blockLength
  const header = new Uint8ArrayList(
    varint.encode(responseLength),
    Uint8Array.of(0x0a), varint.encode(blockLength),
    Uint8Array.of(0x0a), varint.encode(cid.byteLength), cid,
    Uint8Array.of(0x12), varint.encode(data.byteLength)
  ).subarray()
  return new Uint8ArrayList(header, data)
}

/** Decode a Request, refusing more CIDs than the protocol allows. */
export function decodeRequest (buf: Uint8Array | Uint8ArrayList): Request {
  try {
    return Request.decode(buf, { limits: { want: MAX_CIDS_PER_REQUEST, cancel: MAX_CIDS_PER_REQUEST } })
  } catch (err: any) {
    throw new ProtocolViolationError(`malformed request: ${err.message}`)
  }
}

/** A Response as received: the data of a block may be the pieces it arrived in, not yet joined. */
export interface ReceivedResponse {
  blocks: Array<{ cid: Uint8Array, data: Uint8Array | Uint8ArrayList }>
  dontHave: Uint8Array[]
}

/** Decode a Response, refusing more entries than the protocol allows. */
export function decodeResponse (buf: Uint8Array | Uint8ArrayList): ReceivedResponse {
  const block = buf instanceof Uint8ArrayList ? singleBlock(buf) : undefined
  if (block != null) return { blocks: [block], dontHave: [] }
  try {
    return Response.decode(buf, { limits: { blocks: MAX_ENTRIES_PER_RESPONSE, dontHave: MAX_ENTRIES_PER_RESPONSE } })
  } catch (err: any) {
    throw new ProtocolViolationError(`malformed response: ${err.message}`)
  }
}

/**
 * The Response of one block exactly as `encodeBlockResponse` writes it
 * (what a Shoal peer sends for each block), read without joining the
 * block's pieces: a 1 MiB leaf arrives as some sixteen buffers, and joining
 * them was a copy and a 1 MiB allocation per block. Anything else (another
 * field order, several blocks, "don't have"s, padded varints) is undefined,
 * left to the protobuf decoder.
 */
function singleBlock (buf: Uint8ArrayList): { cid: Uint8Array, data: Uint8ArrayList } | undefined {
  try {
    const end = buf.byteLength
    if (buf.get(0) !== 0x0a) return undefined
    const [blockLength, blockStart] = readVarint(buf, 1)
    if (blockStart + blockLength !== end || buf.get(blockStart) !== 0x0a) return undefined
    const [cidLength, cidStart] = readVarint(buf, blockStart + 1)
    const cidEnd = cidStart + cidLength
    if (cidLength === 0 || cidEnd >= end || buf.get(cidEnd) !== 0x12) return undefined
    const [dataLength, dataStart] = readVarint(buf, cidEnd + 1)
    if (dataLength === 0 || dataStart + dataLength !== end) return undefined
    return { cid: buf.subarray(cidStart, cidEnd), data: buf.sublist(dataStart, end) }
  } catch {
    // truncated: the protobuf decoder says what is wrong
    return undefined
  }
}

/** A varint at `offset` and the offset after it; only its shortest encoding is taken (a padded one throws). */
function readVarint (buf: Uint8ArrayList, offset: number): [number, number] {
  const value = varint.decode(buf, offset)
  const next = offset + varint.encodingLength(value)
  if (buf.get(next - 1) >= 0x80) throw new RangeError('padded varint')
  return [value, next]
}
