import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface PeerRecord {
  id: Uint8Array<ArrayBuffer>
  addrs: Uint8Array<ArrayBuffer>[]
}

export namespace PeerRecord {
  let _codec: Codec<PeerRecord>

  export const codec = (): Codec<PeerRecord> => {
    if (_codec == null) {
      _codec = message<PeerRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
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
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

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

  export interface PeerRecordIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PeerRecordAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PeerRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PeerRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PeerRecord>): PeerRecord {
    return decodeMessage(buf, PeerRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PeerRecord>): Generator<PeerRecordIdFieldEvent | PeerRecordAddrsFieldEvent> {
    return streamMessage(buf, PeerRecord.codec(), opts)
  }
}

export interface SwarmMessage {
  root: Uint8Array<ArrayBuffer>
  complete: boolean
  leafCount: number
  bitfield: Uint8Array<ArrayBuffer>
  have: number[]
  peers: PeerRecord[]
  leaving: boolean
}

export namespace SwarmMessage {
  let _codec: Codec<SwarmMessage>

  export const codec = (): Codec<SwarmMessage> => {
    if (_codec == null) {
      _codec = message<SwarmMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.root != null && obj.root.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.root)
        }

        if ((obj.complete != null && obj.complete !== false)) {
          w.uint32(16)
          w.bool(obj.complete)
        }

        if ((obj.leafCount != null && obj.leafCount !== 0)) {
          w.uint32(24)
          w.uint32(obj.leafCount)
        }

        if ((obj.bitfield != null && obj.bitfield.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.bitfield)
        }

        if (obj.have != null && obj.have.length > 0) {
          for (const value of obj.have) {
            w.uint32(40)
            w.uint32(value)
          }
        }

        if (obj.peers != null && obj.peers.length > 0) {
          for (const value of obj.peers) {
            w.uint32(50)
            PeerRecord.codec().encode(value, w)
          }
        }

        if ((obj.leaving != null && obj.leaving !== false)) {
          w.uint32(56)
          w.bool(obj.leaving)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          root: uint8ArrayAlloc(0),
          complete: false,
          leafCount: 0,
          bitfield: uint8ArrayAlloc(0),
          have: [],
          peers: [],
          leaving: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.root = reader.bytes()
              break
            }
            case 2: {
              obj.complete = reader.bool()
              break
            }
            case 3: {
              obj.leafCount = reader.uint32()
              break
            }
            case 4: {
              obj.bitfield = reader.bytes()
              break
            }
            case 5: {
              if (opts.limits?.have != null && obj.have.length === opts.limits.have) {
                throw new MaxLengthError('Decode error - repeated field "have" had too many elements')
              }

              obj.have.push(reader.uint32())
              break
            }
            case 6: {
              if (opts.limits?.peers != null && obj.peers.length === opts.limits.peers) {
                throw new MaxLengthError('Decode error - repeated field "peers" had too many elements')
              }

              obj.peers.push(PeerRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.peers$
              }))
              break
            }
            case 7: {
              obj.leaving = reader.bool()
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
          have: 0,
          peers: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.root`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.complete`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.leafCount`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.bitfield`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              if (opts.limits?.have != null && obj.have === opts.limits.have) {
                throw new MaxLengthError('Streaming decode error - repeated field "have" had too many elements')
              }

              yield {
                field: `${prefix}.have[]`,
                index: obj.have,
                value: reader.uint32()
              }

              obj.have++

              break
            }
            case 6: {
              if (opts.limits?.peers != null && obj.peers === opts.limits.peers) {
                throw new MaxLengthError('Streaming decode error - repeated field "peers" had too many elements')
              }

              for (const evt of PeerRecord.codec().stream(reader, reader.uint32(), `${prefix}.peers[]`, {
                limits: opts.limits?.peers$
              })) {
                yield {
                  ...evt,
                  index: obj.peers
                }
              }

              obj.peers++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.leaving`,
                value: reader.bool()
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

  export interface SwarmMessageRootFieldEvent {
    field: '$.root'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SwarmMessageCompleteFieldEvent {
    field: '$.complete'
    value: boolean
  }

  export interface SwarmMessageLeafCountFieldEvent {
    field: '$.leafCount'
    value: number
  }

  export interface SwarmMessageBitfieldFieldEvent {
    field: '$.bitfield'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SwarmMessageHaveFieldEvent {
    field: '$.have[]'
    index: number
    value: number
  }

  export interface SwarmMessagePeersIdFieldEvent {
    field: '$.peers[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SwarmMessagePeersAddrsFieldEvent {
    field: '$.peers[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface SwarmMessageLeavingFieldEvent {
    field: '$.leaving'
    value: boolean
  }

  export function encode (obj: Partial<SwarmMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SwarmMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SwarmMessage>): SwarmMessage {
    return decodeMessage(buf, SwarmMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SwarmMessage>): Generator<SwarmMessageRootFieldEvent | SwarmMessageCompleteFieldEvent | SwarmMessageLeafCountFieldEvent | SwarmMessageBitfieldFieldEvent | SwarmMessageHaveFieldEvent | SwarmMessagePeersIdFieldEvent | SwarmMessagePeersAddrsFieldEvent | SwarmMessageLeavingFieldEvent> {
    return streamMessage(buf, SwarmMessage.codec(), opts)
  }
}
