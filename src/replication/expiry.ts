/** Drop the entries of `until` whose time has passed (the maps would otherwise only grow). */
export function expire (until: Map<string, number>, now: number): void {
  for (const [key, time] of until) if (time <= now) until.delete(key)
}
