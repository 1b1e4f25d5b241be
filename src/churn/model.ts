/**
 * Seeded randomness and the churn models: when peers stop and how long
 * they stay away. Sessions drawn from an exponential or a Weibull
 * distribution are how measured P2P churn is usually modelled (Weibull with
 * a shape below 1: many short sessions, a few very long ones).
 */

/** A small, fast, seedable PRNG (sfc32); the same seed gives the same run. */
export class Random {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number) {
    this.a = 0x9e3779b9
    this.b = 0x243f6a88
    this.c = 0xb7e15162
    this.d = seed >>> 0
    for (let i = 0; i < 15; i++) this.next()
  }

  /** Uniform in [0, 1). */
  next (): number {
    this.a >>>= 0; this.b >>>= 0; this.c >>>= 0; this.d >>>= 0
    let t = (this.a + this.b) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.d = (this.d + 1) | 0
    t = (t + this.d) | 0
    this.c = (this.c + t) | 0
    return (t >>> 0) / 4294967296
  }

  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  pick<T> (items: T[]): T {
    return items[this.int(items.length)]
  }

  chance (p: number): boolean {
    return this.next() < p
  }
}

export type ChurnModelName = 'fixed' | 'exponential' | 'weibull'

export interface ChurnModelOptions {
  model: ChurnModelName
  /** fixed: one peer stops every `interval` seconds. */
  interval: number
  /** exponential / weibull: median session length (seconds). */
  median: number
  /** weibull shape (below 1: heavy tail). */
  shape: number
  /** Median time a stopped peer stays down (seconds). */
  downtime: number
}

/** Draws session and downtime lengths (seconds) for a model. */
export class ChurnModel {
  constructor (readonly options: ChurnModelOptions, private readonly random: Random) {}

  /** How long a peer that just (re)started stays up; `undefined` for the fixed model (a global clock drives it). */
  session (): number | undefined {
    const { model, median, shape } = this.options
    if (model === 'fixed') return undefined
    return model === 'exponential' ? exponential(this.random, median) : weibull(this.random, median, shape)
  }

  /** How long a stopped peer stays down. */
  downtime (): number {
    const { model, downtime, shape } = this.options
    if (model === 'fixed') return downtime
    return model === 'exponential' ? exponential(this.random, downtime) : weibull(this.random, downtime, shape)
  }
}

/** Exponential with the given median: rate ln 2 / median. */
export function exponential (random: Random, median: number): number {
  const u = 1 - random.next()
  return -Math.log(u) * median / Math.LN2
}

/** Weibull with the given median and shape k: scale = median / (ln 2)^(1/k). */
export function weibull (random: Random, median: number, shape: number): number {
  const u = 1 - random.next()
  const scale = median / Math.pow(Math.LN2, 1 / shape)
  return scale * Math.pow(-Math.log(u), 1 / shape)
}
