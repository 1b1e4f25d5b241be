/** An AbortSignal that aborts when any of the given ones does; absent ones are skipped. */
export function anySignal (...signals: Array<AbortSignal | undefined>): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s != null))
}
