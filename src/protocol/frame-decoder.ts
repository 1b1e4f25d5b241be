import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolViolationError } from '../errors.js'

/** A varint length never needs more bytes than this. */
const MAX_LENGTH_BYTES = 10

/**
 * Splits a byte stream into unsigned-varint length-prefixed frames. Only a
 * frame's declared length is bounded (`maxDataLength`): a chunk holding many
 * complete frames (a stream that buffered while we were busy) is fine, and
 * the buffer never holds more than one incomplete frame beyond the chunk
 * being decoded. Frames are returned without copying.
 */
export class FrameDecoder {
  private readonly buffer = new Uint8ArrayList()
  private need = -1

  constructor (private readonly maxDataLength: number) {}

  /** Bytes of an unfinished frame are buffered (a stream ending now was cut inside a message). */
  get midFrame (): boolean {
    return this.need >= 0 || this.buffer.byteLength > 0
  }

  * decode (chunk: Uint8Array | Uint8ArrayList): Generator<Uint8ArrayList> {
    this.buffer.append(chunk)
    while (true) {
      if (this.need < 0) {
        let length: number
        try {
          length = varint.decode(this.buffer)
        } catch {
          if (this.buffer.byteLength >= MAX_LENGTH_BYTES) throw new ProtocolViolationError('malformed length prefix')
          return // wait for the rest of the prefix
        }
        if (length > this.maxDataLength) {
          throw new ProtocolViolationError(`message of ${length} bytes exceeds the limit of ${this.maxDataLength}`, 'oversized')
        }
        this.buffer.consume(varint.encodingLength(length))
        this.need = length
      }
      if (this.buffer.byteLength < this.need) return
      const frame = this.buffer.sublist(0, this.need)
      this.buffer.consume(this.need)
      this.need = -1
      yield frame
    }
  }
}
