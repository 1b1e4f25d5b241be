/** Set bits in each byte value. */
const ONES = Uint8Array.from({ length: 256 }, (_, b) => { let n = 0; for (let x = b; x > 0; x >>= 1) n += x & 1; return n })

/**
 * A fixed-size set of leaf indices, packed most-significant-bit first as
 * on the wire (`SwarmMessage.bitfield`).
 */
export class Bitfield {
  readonly size: number
  private readonly bits: Uint8Array
  private ones = 0

  /**
   * `size` bits, all clear, or copied from `bytes`; with bytes, their length
   * is checked against `size` before anything is allocated (a peer's
   * leafCount is a number it chose: up to 2^32).
   */
  constructor (size: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bitfield of ${size} bits`)
    if (bytes != null && bytes.length !== Math.ceil(size / 8)) {
      throw new RangeError(`bitfield of ${bytes.length} bytes for ${size} leaves`)
    }
    this.size = size
    this.bits = new Uint8Array(Math.ceil(size / 8))
    if (bytes != null) {
      this.bits.set(bytes)
      // bits past the end must be clear
      const spare = this.bits.length * 8 - size
      if (spare > 0) this.bits[this.bits.length - 1] &= (0xff << spare) & 0xff
      for (const byte of this.bits) this.ones += ONES[byte]
    }
  }

  has (i: number): boolean {
    return i >= 0 && i < this.size && (this.bits[i >> 3] & (0x80 >> (i & 7))) !== 0
  }

  /** Set bit `i`; returns false if it was already set or is out of range. */
  set (i: number): boolean {
    if (i < 0 || i >= this.size || this.has(i)) return false
    this.bits[i >> 3] |= 0x80 >> (i & 7)
    this.ones++
    return true
  }

  get count (): number {
    return this.ones
  }

  get full (): boolean {
    return this.ones === this.size
  }

  toBytes (): Uint8Array {
    return this.bits.slice()
  }
}
