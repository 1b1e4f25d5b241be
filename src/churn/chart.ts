import type { ChurnReport } from './run-report.js'

const W = 960
const H = 420
const LEFT = 50
const RIGHT = 20
const TOP = 30
const PLOT_H = 280
const STRIP = 40

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
}

/**
 * The run over time as an SVG: live peers, complete copies of each file
 * (K dashed), churn events as ticks, and fetches (green ok, red failed or
 * corrupt, grey interrupted) in a strip below.
 */
export function churnChart (r: ChurnReport): string {
  const samples = r.timeline.filter(s => s.t >= 0)
  const tMax = Math.max(r.options.duration, ...samples.map(s => s.t), 1)
  const yMax = Math.max(r.options.peers, ...samples.map(s => s.live), ...samples.flatMap(s => s.copies), 1)
  const x = (t: number): number => LEFT + (t / tMax) * (W - LEFT - RIGHT)
  const y = (v: number): number => TOP + PLOT_H - (v / yMax) * PLOT_H
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`)
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  const e = r.options.erasure
  const k = e == null ? r.options.replicas : e.k + e.m
  parts.push(`<text x="${LEFT}" y="18" font-size="13">${esc(`shoal churn: ${r.options.peers} peers, ${r.options.files} files, ${e == null ? `K=${k}` : `erasure ${e.k}+${e.m}`}, ${r.options.model} model, seed ${r.options.seed}`)}</text>`)
  // axes and grid
  for (let v = 0; v <= yMax; v += Math.max(1, Math.ceil(yMax / 6))) {
    parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${LEFT - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`)
  }
  for (let t = 0; t <= tMax; t += Math.max(10, Math.ceil(tMax / 12 / 10) * 10)) {
    parts.push(`<text x="${x(t)}" y="${TOP + PLOT_H + STRIP + 28}" text-anchor="middle">${t}s</text>`)
  }
  parts.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(k)}" y2="${y(k)}" stroke="#888" stroke-dasharray="6 4"/>`)
  // copies per file, then live peers on top
  const line = (values: Array<[number, number]>, style: string): string =>
    `<polyline fill="none" ${style} points="${values.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`
  r.files.forEach((_, i) => {
    const hue = Math.round((i * 360) / Math.max(1, r.files.length))
    parts.push(line(samples.map(s => [s.t, s.copies[i] + (i - r.files.length / 2) * 0.03]), `stroke="hsl(${hue},60%,55%)" stroke-width="1" opacity="0.8"`))
  })
  parts.push(line(samples.map(s => [s.t, s.live]), 'stroke="black" stroke-width="2"'))
  // churn events
  const colour = { kill: '#d62728', graceful: '#ff7f0e', partition: '#9467bd', restart: '#2ca02c', heal: '#17becf', 'new-peer': '#1f77b4' }
  for (const e of r.events.list) {
    if (e.t < 0 || e.t > tMax) continue
    parts.push(`<line x1="${x(e.t)}" x2="${x(e.t)}" y1="${TOP}" y2="${TOP + 8}" stroke="${colour[e.kind]}" stroke-width="2"><title>${esc(`${e.kind} ${e.peer} at ${e.t.toFixed(1)} s`)}</title></line>`)
  }
  // fetch strip
  const stripTop = TOP + PLOT_H + 10
  parts.push(`<text x="${LEFT - 6}" y="${stripTop + 14}" text-anchor="end">gets</text>`)
  for (const f of r.fetchLog) {
    if (f.t < 0 || f.t > tMax) continue
    const c = f.outcome === 'ok' ? '#2ca02c' : f.outcome === 'interrupted' ? '#aaa' : '#d62728'
    parts.push(`<line x1="${x(f.t)}" x2="${x(f.t)}" y1="${stripTop}" y2="${stripTop + 20}" stroke="${c}"/>`)
  }
  // legend
  const legend: Array<[string, string]> = [['live peers', 'black'], [e == null ? 'copies per file' : 'fragments per file', 'hsl(200,60%,55%)'], [`K = ${k}`, '#888'],
    ['SIGKILL', colour.kill], ['graceful stop', colour.graceful], ['restart', colour.restart], ['new peer', colour['new-peer']]]
  legend.forEach(([label, c], i) => {
    const lx = LEFT + i * 125
    parts.push(`<rect x="${lx}" y="${H - 16}" width="10" height="10" fill="${c}"/><text x="${lx + 14}" y="${H - 7}">${esc(label)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
