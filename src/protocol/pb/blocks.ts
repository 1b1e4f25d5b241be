import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Request {
  want: Uint8Array<ArrayBuffer>[]
  cancel: Uint8Array<ArrayBuffer>[]
}

export namespace Request {
  let _codec: Codec<Request>

  export const codec = (): Codec<Request> => {
    if (_codec == null) {
      _codec = message<Request>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.want != null && obj.want.length > 0) {
          for (const value of obj.want) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (obj.cancel != null && obj.cancel.length > 0) {
          for (const value of obj.cancel) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          want: [],
          cancel: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.want != null && obj.want.length === opts.limits.want) {
                throw new MaxLengthError('Decode error - repeated field "want" had too many elements')
              }

              obj.want.push(reader.bytes())
              break
            }
            case 2: {
              if (opts.limits?.cancel != null && obj.cancel.length === opts.limits.cancel) {
                throw new MaxLengthError('Decode error - repeated field "cancel" had too many elements')
              }

              obj.cancel.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          want: 0,
          cancel: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.want != null && obj.want === opts.limits.want) {
                throw new MaxLengthError('Streaming decode error - repeated field "want" had too many elements')
              }

              yield {
                field: `${prefix}.want[]`,
                index: obj.want,
                value: reader.bytes()
              }

              obj.want++

              break
            }
            case 2: {
              if (opts.limits?.cancel != null && obj.cancel === opts.limits.cancel) {
                throw new MaxLengthError('Streaming decode error - repeated field "cancel" had too many elements')
              }

              yield {
                field: `${prefix}.cancel[]`,
                index: obj.cancel,
                value: reader.bytes()
              }

              obj.cancel++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RequestWantFieldEvent {
    field: '$.want[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RequestCancelFieldEvent {
    field: '$.cancel[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Request>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Request.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Request>): Request {
    return decodeMessage(buf, Request.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Request>): Generator<RequestWantFieldEvent | RequestCancelFieldEvent> {
    return streamMessage(buf, Request.codec(), opts)
  }
}

export interface Block {
  cid: Uint8Array<ArrayBuffer>
  data: Uint8Array<ArrayBuffer>
}

export namespace Block {
  let _codec: Codec<Block>

  export const codec = (): Codec<Block> => {
    if (_codec == null) {
      _codec = message<Block>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.cid != null && obj.cid.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.cid)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          cid: uint8ArrayAlloc(0),
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.cid = reader.bytes()
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.cid`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface BlockCidFieldEvent {
    field: '$.cid'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BlockDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Block>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Block.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Block>): Block {
    return decodeMessage(buf, Block.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Block>): Generator<BlockCidFieldEvent | BlockDataFieldEvent> {
    return streamMessage(buf, Block.codec(), opts)
  }
}

export interface Response {
  blocks: Block[]
  dontHave: Uint8Array<ArrayBuffer>[]
}

export namespace Response {
  let _codec: Codec<Response>

  export const codec = (): Codec<Response> => {
    if (_codec == null) {
      _codec = message<Response>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.blocks != null && obj.blocks.length > 0) {
          for (const value of obj.blocks) {
            w.uint32(10)
            Block.codec().encode(value, w)
          }
        }

        if (obj.dontHave != null && obj.dontHave.length > 0) {
          for (const value of obj.dontHave) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          blocks: [],
          dontHave: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.blocks != null && obj.blocks.length === opts.limits.blocks) {
                throw new MaxLengthError('Decode error - repeated field "blocks" had too many elements')
              }

              obj.blocks.push(Block.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.blocks$
              }))
              break
            }
            case 2: {
              if (opts.limits?.dontHave != null && obj.dontHave.length === opts.limits.dontHave) {
                throw new MaxLengthError('Decode error - repeated field "dontHave" had too many elements')
              }

              obj.dontHave.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          blocks: 0,
          dontHave: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.blocks != null && obj.blocks === opts.limits.blocks) {
                throw new MaxLengthError('Streaming decode error - repeated field "blocks" had too many elements')
              }

              for (const evt of Block.codec().stream(reader, reader.uint32(), `${prefix}.blocks[]`, {
                limits: opts.limits?.blocks$
              })) {
                yield {
                  ...evt,
                  index: obj.blocks
                }
              }

              obj.blocks++

              break
            }
            case 2: {
              if (opts.limits?.dontHave != null && obj.dontHave === opts.limits.dontHave) {
                throw new MaxLengthError('Streaming decode error - repeated field "dontHave" had too many elements')
              }

              yield {
                field: `${prefix}.dontHave[]`,
                index: obj.dontHave,
                value: reader.bytes()
              }

              obj.dontHave++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ResponseBlocksCidFieldEvent {
    field: '$.blocks[].cid'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ResponseBlocksDataFieldEvent {
    field: '$.blocks[].data'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ResponseDontHaveFieldEvent {
    field: '$.dontHave[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Response>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Response.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Response>): Response {
    return decodeMessage(buf, Response.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Response>): Generator<ResponseBlocksCidFieldEvent | ResponseBlocksDataFieldEvent | ResponseDontHaveFieldEvent> {
    return streamMessage(buf, Response.codec(), opts)
  }
}
