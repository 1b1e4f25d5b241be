/** Amounts with units (rates, sizes) and the primitive checks every config field goes through. */
import { ConfigError } from '../errors.js'

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3 }

/**
 * Parse a rate such as "10MB", "512KiB", "2.5m" or "0" (bytes per second;
 * a trailing "/s" is allowed). Decimal units are powers of 1000, binary ones
 * (KiB, MiB, GiB) of 1024.
 */
export function parseRate (text: string, what = 'rate'): number {
  const n = parseBytes(text, true)
  if (n == null) throw new ConfigError(`${what}: not a rate: ${JSON.stringify(text)} (try 10MB, 512KiB or 0 for unlimited)`)
  return n
}

/** Parse an amount of bytes such as "20GB", "512MiB" or "0" (units as parseRate). */
export function parseSize (text: string, what = 'size'): number {
  const n = parseBytes(text, false)
  if (n == null) throw new ConfigError(`${what}: not a size: ${JSON.stringify(text)} (try 20GB, 512MiB or 0 for unlimited)`)
  return n
}

function parseBytes (text: string, perSecond: boolean): number | undefined {
  const m = (perSecond ? /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:\/s)?\s*$/i : /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i).exec(text)
  const unit = m?.[2].toLowerCase()
  if (m == null || unit == null || !(unit in UNITS)) return undefined
  return Math.round(Number(m[1]) * UNITS[unit])
}

export function str (value: unknown, what: string): string {
  if (typeof value !== 'string') throw new ConfigError(`${what} must be a string`)
  return value
}

export function bool (value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(`${what} must be true or false`)
  return value
}

export function positiveInt (value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigError(`${what} must be a positive integer`)
  }
  return value
}

export function rate (value: unknown, what: string, unit = 'bytes per second (0: unlimited)'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigError(`${what} must be a number of ${unit}`)
  }
  return value
}
