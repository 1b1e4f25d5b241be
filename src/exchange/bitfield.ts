/**
 * A fixed-size set of leaf indices, packed most-significant-bit first as
 * on the wire (`SwarmMessage.bitfield`).
 */
export class Bitfield {
  readonly size: number
  private readonly bits: Uint8Array
  private ones = 0

  constructor (size: number, bytes?: Uint8Array) {
    this.size = size
    this.bits = new Uint8Array(Math.ceil(size / 8))
    if (bytes != null) {
      if (bytes.length !== this.bits.length) {
        throw new RangeError(`bitfield of ${bytes.length} bytes for ${size} leaves`)
      }
      this.bits.set(bytes)
      // bits past the end must be clear
      const spare = this.bits.length * 8 - size
      if (spare > 0) this.bits[this.bits.length - 1] &= (0xff << spare) & 0xff
      for (let i = 0; i < size; i++) if (this.has(i)) this.ones++
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
