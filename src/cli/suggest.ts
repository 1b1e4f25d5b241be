/** Edit distance between two short strings (insertions, deletions, substitutions). */
function distance (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = row
  }
  return prev[b.length]
}

/** The known name closest to `word`, if it is close enough to be a typo. */
export function closestName (word: string, known: Iterable<string>): string | undefined {
  let best: { name: string, d: number } | undefined
  for (const name of known) {
    const d = distance(word, name)
    if (best == null || d < best.d) best = { name, d }
  }
  return best != null && best.d <= Math.max(1, Math.floor(word.length / 3)) ? best.name : undefined
}
