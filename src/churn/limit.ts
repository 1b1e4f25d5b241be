/** Run `jobs`, at most `limit` at a time; their results in order. */
export async function runLimited<T> (limit: number, jobs: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = []
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++
      results[i] = await jobs[i]()
    }
  }))
  return results
}
