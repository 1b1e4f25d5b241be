/** The benchmark's goals: each a ratio measured against a baseline of the same run, and whether it is met. */
export interface Goal { goal: string, value: number, target: number, bound: 'at least' | 'at most', met: boolean, figures: string }

export class Goals {
  readonly list: Goal[] = []

  add (goal: string, value: number | undefined, target: number, figures: string, bound: Goal['bound'] = 'at least'): void {
    if (value == null || Number.isNaN(value)) return
    this.list.push({ goal, value, target, bound, met: bound === 'at least' ? value >= target : value <= target, figures })
  }

  lines (): string[] {
    return this.list.map(g => `  ${g.met ? 'met ' : 'MISS'}  ${g.goal.padEnd(52)} ${String(g.value).padStart(5)} (${g.bound} ${g.target})  ${g.figures}`)
  }
}
