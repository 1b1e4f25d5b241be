import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolViolationError } from '../errors.js'
import { Request, Response } from './blocks.js'
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

/** Decode a Request, refusing more CIDs than the protocol allows. */
export function decodeRequest (buf: Uint8Array | Uint8ArrayList): Request {
  try {
    return Request.decode(buf, { limits: { want: MAX_CIDS_PER_REQUEST, cancel: MAX_CIDS_PER_REQUEST } })
  } catch (err: any) {
    throw new ProtocolViolationError(`malformed request: ${err.message}`)
  }
}

/** Decode a Response, refusing more entries than the protocol allows. */
export function decodeResponse (buf: Uint8Array | Uint8ArrayList): Response {
  try {
    return Response.decode(buf, { limits: { blocks: MAX_ENTRIES_PER_RESPONSE, dontHave: MAX_ENTRIES_PER_RESPONSE } })
  } catch (err: any) {
    throw new ProtocolViolationError(`malformed response: ${err.message}`)
  }
}
