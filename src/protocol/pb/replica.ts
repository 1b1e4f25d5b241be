import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export enum ReplicaOp {
  STATUS = 'STATUS',
  REPLICATE = 'REPLICATE',
  RELEASE = 'RELEASE',
  LEAVING = 'LEAVING'
}

enum __ReplicaOpValues {
  STATUS = 0,
  REPLICATE = 1,
  RELEASE = 2,
  LEAVING = 3
}

export namespace ReplicaOp {
  export const codec = (): Codec<ReplicaOp> => {
    return enumeration<ReplicaOp>(__ReplicaOpValues)
  }
}

export enum ReplicaState {
  NONE = 'NONE',
  FETCHING = 'FETCHING',
  COMPLETE = 'COMPLETE',
  DECLINED = 'DECLINED'
}

enum __ReplicaStateValues {
  NONE = 0,
  FETCHING = 1,
  COMPLETE = 2,
  DECLINED = 3
}

export namespace ReplicaState {
  export const codec = (): Codec<ReplicaState> => {
    return enumeration<ReplicaState>(__ReplicaStateValues)
  }
}

export interface RootReplicas {
  root: Uint8Array<ArrayBuffer>
  min: number
  max: number
  size: bigint
  state: ReplicaState
  holders: Uint8Array<ArrayBuffer>[]
  reason: string
  intentSince: bigint
  bytesHeld: bigint
  digest: bigint
  absent: AbsentHolder[]
  erasureK: number
  erasureM: number
  layout: Uint8Array<ArrayBuffer>
  fragment: number
  holderFragments: number[]
}

export namespace RootReplicas {
  let _codec: Codec<RootReplicas>

  export const codec = (): Codec<RootReplicas> => {
    if (_codec == null) {
      _codec = message<RootReplicas>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.root != null && obj.root.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.root)
        }

        if ((obj.min != null && obj.min !== 0)) {
          w.uint32(16)
          w.uint32(obj.min)
        }

        if ((obj.max != null && obj.max !== 0)) {
          w.uint32(24)
          w.uint32(obj.max)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(32)
          w.uint64(obj.size)
        }

        if (obj.state != null && __ReplicaStateValues[obj.state] !== 0) {
          w.uint32(40)
          ReplicaState.codec().encode(obj.state, w)
        }

        if (obj.holders != null && obj.holders.length > 0) {
          for (const value of obj.holders) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(58)
          w.string(obj.reason)
        }

        if ((obj.intentSince != null && obj.intentSince !== 0n)) {
          w.uint32(64)
          w.uint64(obj.intentSince)
        }

        if ((obj.bytesHeld != null && obj.bytesHeld !== 0n)) {
          w.uint32(72)
          w.uint64(obj.bytesHeld)
        }

        if ((obj.digest != null && obj.digest !== 0n)) {
          w.uint32(81)
          w.fixed64(obj.digest)
        }

        if (obj.absent != null && obj.absent.length > 0) {
          for (const value of obj.absent) {
            w.uint32(90)
            AbsentHolder.codec().encode(value, w)
          }
        }

        if ((obj.erasureK != null && obj.erasureK !== 0)) {
          w.uint32(96)
          w.uint32(obj.erasureK)
        }

        if ((obj.erasureM != null && obj.erasureM !== 0)) {
          w.uint32(104)
          w.uint32(obj.erasureM)
        }

        if ((obj.layout != null && obj.layout.byteLength > 0)) {
          w.uint32(114)
          w.bytes(obj.layout)
        }

        if ((obj.fragment != null && obj.fragment !== 0)) {
          w.uint32(120)
          w.uint32(obj.fragment)
        }

        if (obj.holderFragments != null && obj.holderFragments.length > 0) {
          for (const value of obj.holderFragments) {
            w.uint32(128)
            w.uint32(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          root: uint8ArrayAlloc(0),
          min: 0,
          max: 0,
          size: 0n,
          state: ReplicaState.NONE,
          holders: [],
          reason: '',
          intentSince: 0n,
          bytesHeld: 0n,
          digest: 0n,
          absent: [],
          erasureK: 0,
          erasureM: 0,
          layout: uint8ArrayAlloc(0),
          fragment: 0,
          holderFragments: []
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
              obj.min = reader.uint32()
              break
            }
            case 3: {
              obj.max = reader.uint32()
              break
            }
            case 4: {
              obj.size = reader.uint64()
              break
            }
            case 5: {
              obj.state = ReplicaState.codec().decode(reader)
              break
            }
            case 6: {
              if (opts.limits?.holders != null && obj.holders.length === opts.limits.holders) {
                throw new MaxLengthError('Decode error - repeated field "holders" had too many elements')
              }

              obj.holders.push(reader.bytes())
              break
            }
            case 7: {
              obj.reason = reader.string()
              break
            }
            case 8: {
              obj.intentSince = reader.uint64()
              break
            }
            case 9: {
              obj.bytesHeld = reader.uint64()
              break
            }
            case 10: {
              obj.digest = reader.fixed64()
              break
            }
            case 11: {
              if (opts.limits?.absent != null && obj.absent.length === opts.limits.absent) {
                throw new MaxLengthError('Decode error - repeated field "absent" had too many elements')
              }

              obj.absent.push(AbsentHolder.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.absent$
              }))
              break
            }
            case 12: {
              obj.erasureK = reader.uint32()
              break
            }
            case 13: {
              obj.erasureM = reader.uint32()
              break
            }
            case 14: {
              obj.layout = reader.bytes()
              break
            }
            case 15: {
              obj.fragment = reader.uint32()
              break
            }
            case 16: {
              if (opts.limits?.holderFragments != null && obj.holderFragments.length === opts.limits.holderFragments) {
                throw new MaxLengthError('Decode error - repeated field "holderFragments" had too many elements')
              }

              obj.holderFragments.push(reader.uint32())
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
          holders: 0,
          absent: 0,
          holderFragments: 0
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
                field: `${prefix}.min`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.max`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.state`,
                value: ReplicaState.codec().decode(reader)
              }
              break
            }
            case 6: {
              if (opts.limits?.holders != null && obj.holders === opts.limits.holders) {
                throw new MaxLengthError('Streaming decode error - repeated field "holders" had too many elements')
              }

              yield {
                field: `${prefix}.holders[]`,
                index: obj.holders,
                value: reader.bytes()
              }

              obj.holders++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.intentSince`,
                value: reader.uint64()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.bytesHeld`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.digest`,
                value: reader.fixed64()
              }
              break
            }
            case 11: {
              if (opts.limits?.absent != null && obj.absent === opts.limits.absent) {
                throw new MaxLengthError('Streaming decode error - repeated field "absent" had too many elements')
              }

              for (const evt of AbsentHolder.codec().stream(reader, reader.uint32(), `${prefix}.absent[]`, {
                limits: opts.limits?.absent$
              })) {
                yield {
                  ...evt,
                  index: obj.absent
                }
              }

              obj.absent++

              break
            }
            case 12: {
              yield {
                field: `${prefix}.erasureK`,
                value: reader.uint32()
              }
              break
            }
            case 13: {
              yield {
                field: `${prefix}.erasureM`,
                value: reader.uint32()
              }
              break
            }
            case 14: {
              yield {
                field: `${prefix}.layout`,
                value: reader.bytes()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.fragment`,
                value: reader.uint32()
              }
              break
            }
            case 16: {
              if (opts.limits?.holderFragments != null && obj.holderFragments === opts.limits.holderFragments) {
                throw new MaxLengthError('Streaming decode error - repeated field "holderFragments" had too many elements')
              }

              yield {
                field: `${prefix}.holderFragments[]`,
                index: obj.holderFragments,
                value: reader.uint32()
              }

              obj.holderFragments++

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

  export interface RootReplicasRootFieldEvent {
    field: '$.root'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RootReplicasMinFieldEvent {
    field: '$.min'
    value: number
  }

  export interface RootReplicasMaxFieldEvent {
    field: '$.max'
    value: number
  }

  export interface RootReplicasSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface RootReplicasStateFieldEvent {
    field: '$.state'
    value: ReplicaState
  }

  export interface RootReplicasHoldersFieldEvent {
    field: '$.holders[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface RootReplicasReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export interface RootReplicasIntentSinceFieldEvent {
    field: '$.intentSince'
    value: bigint
  }

  export interface RootReplicasBytesHeldFieldEvent {
    field: '$.bytesHeld'
    value: bigint
  }

  export interface RootReplicasDigestFieldEvent {
    field: '$.digest'
    value: bigint
  }

  export interface RootReplicasAbsentPeerFieldEvent {
    field: '$.absent[].peer'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface RootReplicasAbsentDownForFieldEvent {
    field: '$.absent[].downFor'
    value: bigint
    index: number
  }

  export interface RootReplicasAbsentFragmentFieldEvent {
    field: '$.absent[].fragment'
    value: number
    index: number
  }

  export interface RootReplicasErasureKFieldEvent {
    field: '$.erasureK'
    value: number
  }

  export interface RootReplicasErasureMFieldEvent {
    field: '$.erasureM'
    value: number
  }

  export interface RootReplicasLayoutFieldEvent {
    field: '$.layout'
    value: Uint8Array<ArrayBuffer>
  }

  export interface RootReplicasFragmentFieldEvent {
    field: '$.fragment'
    value: number
  }

  export interface RootReplicasHolderFragmentsFieldEvent {
    field: '$.holderFragments[]'
    index: number
    value: number
  }

  export function encode (obj: Partial<RootReplicas>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, RootReplicas.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RootReplicas>): RootReplicas {
    return decodeMessage(buf, RootReplicas.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<RootReplicas>): Generator<RootReplicasRootFieldEvent | RootReplicasMinFieldEvent | RootReplicasMaxFieldEvent | RootReplicasSizeFieldEvent | RootReplicasStateFieldEvent | RootReplicasHoldersFieldEvent | RootReplicasReasonFieldEvent | RootReplicasIntentSinceFieldEvent | RootReplicasBytesHeldFieldEvent | RootReplicasDigestFieldEvent | RootReplicasAbsentPeerFieldEvent | RootReplicasAbsentDownForFieldEvent | RootReplicasAbsentFragmentFieldEvent | RootReplicasErasureKFieldEvent | RootReplicasErasureMFieldEvent | RootReplicasLayoutFieldEvent | RootReplicasFragmentFieldEvent | RootReplicasHolderFragmentsFieldEvent> {
    return streamMessage(buf, RootReplicas.codec(), opts)
  }
}

export interface AbsentHolder {
  peer: Uint8Array<ArrayBuffer>
  downFor: bigint
  fragment: number
}

export namespace AbsentHolder {
  let _codec: Codec<AbsentHolder>

  export const codec = (): Codec<AbsentHolder> => {
    if (_codec == null) {
      _codec = message<AbsentHolder>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peer != null && obj.peer.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.peer)
        }

        if ((obj.downFor != null && obj.downFor !== 0n)) {
          w.uint32(16)
          w.uint64(obj.downFor)
        }

        if ((obj.fragment != null && obj.fragment !== 0)) {
          w.uint32(24)
          w.uint32(obj.fragment)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peer: uint8ArrayAlloc(0),
          downFor: 0n,
          fragment: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peer = reader.bytes()
              break
            }
            case 2: {
              obj.downFor = reader.uint64()
              break
            }
            case 3: {
              obj.fragment = reader.uint32()
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
                field: `${prefix}.peer`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.downFor`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.fragment`,
                value: reader.uint32()
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

  export interface AbsentHolderPeerFieldEvent {
    field: '$.peer'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AbsentHolderDownForFieldEvent {
    field: '$.downFor'
    value: bigint
  }

  export interface AbsentHolderFragmentFieldEvent {
    field: '$.fragment'
    value: number
  }

  export function encode (obj: Partial<AbsentHolder>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AbsentHolder.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AbsentHolder>): AbsentHolder {
    return decodeMessage(buf, AbsentHolder.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AbsentHolder>): Generator<AbsentHolderPeerFieldEvent | AbsentHolderDownForFieldEvent | AbsentHolderFragmentFieldEvent> {
    return streamMessage(buf, AbsentHolder.codec(), opts)
  }
}

export interface Sync {
  reset: boolean
  dropped: Uint8Array<ArrayBuffer>[]
  reachable: Uint8Array<ArrayBuffer>[]
  digest: bigint
  kept: number
}

export namespace Sync {
  let _codec: Codec<Sync>

  export const codec = (): Codec<Sync> => {
    if (_codec == null) {
      _codec = message<Sync>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.reset != null && obj.reset !== false)) {
          w.uint32(8)
          w.bool(obj.reset)
        }

        if (obj.dropped != null && obj.dropped.length > 0) {
          for (const value of obj.dropped) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (obj.reachable != null && obj.reachable.length > 0) {
          for (const value of obj.reachable) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if ((obj.digest != null && obj.digest !== 0n)) {
          w.uint32(33)
          w.fixed64(obj.digest)
        }

        if ((obj.kept != null && obj.kept !== 0)) {
          w.uint32(40)
          w.uint32(obj.kept)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          reset: false,
          dropped: [],
          reachable: [],
          digest: 0n,
          kept: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.reset = reader.bool()
              break
            }
            case 2: {
              if (opts.limits?.dropped != null && obj.dropped.length === opts.limits.dropped) {
                throw new MaxLengthError('Decode error - repeated field "dropped" had too many elements')
              }

              obj.dropped.push(reader.bytes())
              break
            }
            case 3: {
              if (opts.limits?.reachable != null && obj.reachable.length === opts.limits.reachable) {
                throw new MaxLengthError('Decode error - repeated field "reachable" had too many elements')
              }

              obj.reachable.push(reader.bytes())
              break
            }
            case 4: {
              obj.digest = reader.fixed64()
              break
            }
            case 5: {
              obj.kept = reader.uint32()
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
          dropped: 0,
          reachable: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.reset`,
                value: reader.bool()
              }
              break
            }
            case 2: {
              if (opts.limits?.dropped != null && obj.dropped === opts.limits.dropped) {
                throw new MaxLengthError('Streaming decode error - repeated field "dropped" had too many elements')
              }

              yield {
                field: `${prefix}.dropped[]`,
                index: obj.dropped,
                value: reader.bytes()
              }

              obj.dropped++

              break
            }
            case 3: {
              if (opts.limits?.reachable != null && obj.reachable === opts.limits.reachable) {
                throw new MaxLengthError('Streaming decode error - repeated field "reachable" had too many elements')
              }

              yield {
                field: `${prefix}.reachable[]`,
                index: obj.reachable,
                value: reader.bytes()
              }

              obj.reachable++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.digest`,
                value: reader.fixed64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.kept`,
                value: reader.uint32()
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

  export interface SyncResetFieldEvent {
    field: '$.reset'
    value: boolean
  }

  export interface SyncDroppedFieldEvent {
    field: '$.dropped[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface SyncReachableFieldEvent {
    field: '$.reachable[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface SyncDigestFieldEvent {
    field: '$.digest'
    value: bigint
  }

  export interface SyncKeptFieldEvent {
    field: '$.kept'
    value: number
  }

  export function encode (obj: Partial<Sync>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Sync.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Sync>): Sync {
    return decodeMessage(buf, Sync.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Sync>): Generator<SyncResetFieldEvent | SyncDroppedFieldEvent | SyncReachableFieldEvent | SyncDigestFieldEvent | SyncKeptFieldEvent> {
    return streamMessage(buf, Sync.codec(), opts)
  }
}

export interface ReplicaMessage {
  op: ReplicaOp
  roots: RootReplicas[]
  proof: Uint8Array<ArrayBuffer>
  sync?: Sync
}

export namespace ReplicaMessage {
  let _codec: Codec<ReplicaMessage>

  export const codec = (): Codec<ReplicaMessage> => {
    if (_codec == null) {
      _codec = message<ReplicaMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.op != null && __ReplicaOpValues[obj.op] !== 0) {
          w.uint32(8)
          ReplicaOp.codec().encode(obj.op, w)
        }

        if (obj.roots != null && obj.roots.length > 0) {
          for (const value of obj.roots) {
            w.uint32(18)
            RootReplicas.codec().encode(value, w)
          }
        }

        if ((obj.proof != null && obj.proof.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.proof)
        }

        if (obj.sync != null) {
          w.uint32(34)
          Sync.codec().encode(obj.sync, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          op: ReplicaOp.STATUS,
          roots: [],
          proof: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.op = ReplicaOp.codec().decode(reader)
              break
            }
            case 2: {
              if (opts.limits?.roots != null && obj.roots.length === opts.limits.roots) {
                throw new MaxLengthError('Decode error - repeated field "roots" had too many elements')
              }

              obj.roots.push(RootReplicas.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.roots$
              }))
              break
            }
            case 3: {
              obj.proof = reader.bytes()
              break
            }
            case 4: {
              obj.sync = Sync.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.sync
              })
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
          roots: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.op`,
                value: ReplicaOp.codec().decode(reader)
              }
              break
            }
            case 2: {
              if (opts.limits?.roots != null && obj.roots === opts.limits.roots) {
                throw new MaxLengthError('Streaming decode error - repeated field "roots" had too many elements')
              }

              for (const evt of RootReplicas.codec().stream(reader, reader.uint32(), `${prefix}.roots[]`, {
                limits: opts.limits?.roots$
              })) {
                yield {
                  ...evt,
                  index: obj.roots
                }
              }

              obj.roots++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.proof`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield * Sync.codec().stream(reader, reader.uint32(), `${prefix}.sync`, {
                limits: opts.limits?.sync
              })

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

  export interface ReplicaMessageOpFieldEvent {
    field: '$.op'
    value: ReplicaOp
  }

  export interface ReplicaMessageRootsRootFieldEvent {
    field: '$.roots[].root'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ReplicaMessageRootsMinFieldEvent {
    field: '$.roots[].min'
    value: number
    index: number
  }

  export interface ReplicaMessageRootsMaxFieldEvent {
    field: '$.roots[].max'
    value: number
    index: number
  }

  export interface ReplicaMessageRootsSizeFieldEvent {
    field: '$.roots[].size'
    value: bigint
    index: number
  }

  export interface ReplicaMessageRootsStateFieldEvent {
    field: '$.roots[].state'
    value: ReplicaState
    index: number
  }

  export interface ReplicaMessageRootsHoldersFieldEvent {
    field: '$.roots[].holders[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReplicaMessageRootsReasonFieldEvent {
    field: '$.roots[].reason'
    value: string
    index: number
  }

  export interface ReplicaMessageRootsIntentSinceFieldEvent {
    field: '$.roots[].intentSince'
    value: bigint
    index: number
  }

  export interface ReplicaMessageRootsBytesHeldFieldEvent {
    field: '$.roots[].bytesHeld'
    value: bigint
    index: number
  }

  export interface ReplicaMessageRootsDigestFieldEvent {
    field: '$.roots[].digest'
    value: bigint
    index: number
  }

  export interface ReplicaMessageRootsAbsentPeerFieldEvent {
    field: '$.roots[].absent[].peer'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ReplicaMessageRootsAbsentDownForFieldEvent {
    field: '$.roots[].absent[].downFor'
    value: bigint
    index: number
  }

  export interface ReplicaMessageRootsAbsentFragmentFieldEvent {
    field: '$.roots[].absent[].fragment'
    value: number
    index: number
  }

  export interface ReplicaMessageRootsErasureKFieldEvent {
    field: '$.roots[].erasureK'
    value: number
    index: number
  }

  export interface ReplicaMessageRootsErasureMFieldEvent {
    field: '$.roots[].erasureM'
    value: number
    index: number
  }

  export interface ReplicaMessageRootsLayoutFieldEvent {
    field: '$.roots[].layout'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ReplicaMessageRootsFragmentFieldEvent {
    field: '$.roots[].fragment'
    value: number
    index: number
  }

  export interface ReplicaMessageRootsHolderFragmentsFieldEvent {
    field: '$.roots[].holderFragments[]'
    index: number
    value: number
  }

  export interface ReplicaMessageProofFieldEvent {
    field: '$.proof'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReplicaMessageSyncResetFieldEvent {
    field: '$.sync.reset'
    value: boolean
  }

  export interface ReplicaMessageSyncDroppedFieldEvent {
    field: '$.sync.dropped[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReplicaMessageSyncReachableFieldEvent {
    field: '$.sync.reachable[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReplicaMessageSyncDigestFieldEvent {
    field: '$.sync.digest'
    value: bigint
  }

  export interface ReplicaMessageSyncKeptFieldEvent {
    field: '$.sync.kept'
    value: number
  }

  export function encode (obj: Partial<ReplicaMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ReplicaMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ReplicaMessage>): ReplicaMessage {
    return decodeMessage(buf, ReplicaMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ReplicaMessage>): Generator<ReplicaMessageOpFieldEvent | ReplicaMessageRootsRootFieldEvent | ReplicaMessageRootsMinFieldEvent | ReplicaMessageRootsMaxFieldEvent | ReplicaMessageRootsSizeFieldEvent | ReplicaMessageRootsStateFieldEvent | ReplicaMessageRootsHoldersFieldEvent | ReplicaMessageRootsReasonFieldEvent | ReplicaMessageRootsIntentSinceFieldEvent | ReplicaMessageRootsBytesHeldFieldEvent | ReplicaMessageRootsDigestFieldEvent | ReplicaMessageRootsAbsentPeerFieldEvent | ReplicaMessageRootsAbsentDownForFieldEvent | ReplicaMessageRootsAbsentFragmentFieldEvent | ReplicaMessageRootsErasureKFieldEvent | ReplicaMessageRootsErasureMFieldEvent | ReplicaMessageRootsLayoutFieldEvent | ReplicaMessageRootsFragmentFieldEvent | ReplicaMessageRootsHolderFragmentsFieldEvent | ReplicaMessageProofFieldEvent | ReplicaMessageSyncResetFieldEvent | ReplicaMessageSyncDroppedFieldEvent | ReplicaMessageSyncReachableFieldEvent | ReplicaMessageSyncDigestFieldEvent | ReplicaMessageSyncKeptFieldEvent> {
    return streamMessage(buf, ReplicaMessage.codec(), opts)
  }
}
