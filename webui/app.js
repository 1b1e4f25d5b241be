// The daemon's web page: one live feed (server-sent events at /events), the control API's routes
// for the buttons. No framework and nothing from another origin: the daemon serves all of it.

const $ = id => document.getElementById(id)

/** An element with properties (className, textContent, onclick…) and children. */
function h (tag, props = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (k === 'data') for (const [d, dv] of Object.entries(v)) el.dataset[d] = dv
    else el[k] = v
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : String(c))
  return el
}

function bytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}
const rate = n => `${bytes(n)}/s`
/** A duration in seconds as the CLI says one (src/duration.ts, which the page cannot import): 120 ms, 1.5 s, 15 s, 1 min 05 s. */
function duration (seconds) {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '?'
  const ms = Math.round(seconds * 1000)
  if (ms < 1000) return `${ms} ms`
  const tenths = Math.round(seconds * 10) / 10
  if (tenths < 10) return `${tenths} s`
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3600) return s % 60 === 0 ? `${s / 60} min` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`
  const minutes = Math.round(s / 60)
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`
}
const short = id => id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id

function table (head, rows) {
  if (rows.length === 0) return h('p', { className: 'muted' }, 'none')
  return h('div', { className: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, head.map(([t, cls]) => h('th', { className: cls ?? '' }, t)))), h('tbody', {}, rows)))
}

function showError (message) {
  const el = $('error')
  el.textContent = message
  el.hidden = false
  clearTimeout(showError.timer)
  showError.timer = setTimeout(() => { el.hidden = true }, 6000)
}

/** Call a control API route; errors are shown, not thrown. */
async function call (path, body) {
  try {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const text = await res.text()
    const parsed = text === '' ? {} : JSON.parse(text.trim().split('\n').pop())
    if (!res.ok || parsed.type === 'error') throw new Error(parsed.error?.message ?? `${res.status}`)
    return parsed
  } catch (err) {
    showError(err.message)
    return undefined
  }
}

function renderSelf (self) {
  $('peer-short').textContent = short(self.peerId)
  $('peer-id').textContent = self.peerId
  $('reachability').textContent = self.reachability
  $('addresses').replaceChildren(...self.addresses.map(a => h('li', {}, a)))
}

function renderChart (history, view) {
  $('totals').textContent = `up ${rate(view.up)} · down ${rate(view.down)}`
  const svg = $('chart')
  const max = Math.max(1, ...history.map(s => Math.max(s.up, s.down)))
  const n = Math.max(2, history.length)
  const line = key => history.map((s, i) => `${(i / (n - 1) * 300).toFixed(1)},${(100 - s[key] / max * 96).toFixed(1)}`).join(' ')
  const ns = 'http://www.w3.org/2000/svg'
  const poly = (key, color) => {
    const p = document.createElementNS(ns, 'polyline')
    p.setAttribute('points', line(key))
    p.setAttribute('fill', 'none')
    p.setAttribute('stroke', color)
    p.setAttribute('stroke-width', '1.5')
    p.setAttribute('vector-effect', 'non-scaling-stroke')
    return p
  }
  svg.replaceChildren(poly('up', '#d9730d'), poly('down', '#2f6fdf'))
  $('chart-scale').textContent = `top: ${rate(max)}, last ${duration(history.length)}`
}

function renderTransfers (view) {
  $('transfers').replaceChildren(table(
    [['name'], ['progress'], ['rate'], ['ETA'], ['peers (share)', 'hide-narrow'], ['']],
    view.downloads.map(d => {
      const fill = h('div')
      fill.style.width = `${d.bytesTotal > 0 ? Math.min(100, d.bytesDone / d.bytesTotal * 100) : 0}%`
      // each peer's share of the bytes received, in whole percent adding up to 100 (node/activity-view.ts)
      const share = d.shares.map(s => `${short(s.peerId)} ${s.percent}%`).join(', ')
      return h('tr', { data: { root: d.root } },
        h('td', { className: 'mono wrap' }, d.name === d.root ? short(d.root) : d.name, h('div', { className: 'muted small' }, d.purpose)),
        h('td', {}, h('div', { className: 'bar' }, fill), h('span', { className: 'small' }, `${bytes(d.bytesDone)} of ${d.bytesTotal > 0 ? bytes(d.bytesTotal) : '?'}`)),
        h('td', {}, rate(d.rate)),
        h('td', {}, duration(d.eta)),
        h('td', { className: 'small hide-narrow' }, `${d.peers}`, share === '' ? '' : ` (${share})`),
        h('td', {}, d.purpose === 'replica' ? '' : h('button', { className: 'danger', onclick: () => call('/v1/cancel', { cid: d.root }) }, 'Cancel')))
    })))
}

function holderLine (holder, leader, erasure) {
  let text = `${short(holder.peer)} ${holder.state}`
  if (holder.fragment != null && erasure != null) text += holder.fragment < erasure.k ? ` data fragment ${holder.fragment}` : ` parity fragment ${holder.fragment - erasure.k}`
  if (holder.peer === leader) text += ' (leader)'
  if (holder.state === 'absent') text += ` ${duration(holder.downFor / 1000)}; replaced in ${duration(holder.replacedIn / 1000)} unless it returns`
  if (holder.state === 'fetching' && holder.bytesHeld != null) text += ` ${bytes(holder.bytesHeld)}`
  return h('li', { className: 'mono small' }, text)
}

function renderPins (pins) {
  $('pins').replaceChildren(table(
    [['root'], ['size'], ['kept for', 'hide-narrow'], ['replication'], ['']],
    pins.map(p => {
      const r = p.replication
      const k = h('input', { type: 'number', min: 1, max: 64, value: r?.wanted ?? 1, className: 'k', title: 'copies to keep (K)' })
      return h('tr', { data: { cid: p.cid } },
        h('td', { className: 'mono wrap' }, p.kind === 'directory' ? `${p.name}/` : p.name, p.name === p.cid ? '' : h('div', { className: 'muted small' }, short(p.cid)), p.state === 'ok' ? '' : h('div', { className: 'health lost' }, p.state)),
        h('td', {}, bytes(p.size)),
        h('td', { className: 'small hide-narrow' }, p.reasons.join(', ')),
        h('td', {}, r == null
          ? h('span', { className: 'muted small' }, 'not replicated')
          : [h('span', { className: `health ${r.health}` }, r.health), r.erasure == null ? ` ${r.copies} of ${r.wanted}` : ` ${r.copies} of ${r.wanted} fragments (${r.erasure.k}+${r.erasure.m})`, h('ul', { className: 'holders' }, r.holders.map(x => holderLine(x, r.leader, r.erasure)))]),
        h('td', {},
          h('form', { onsubmit: e => { e.preventDefault(); call('/v1/replicate', { cid: p.cid, replicas: Number(k.value) }) } }, k, h('button', { type: 'submit' }, 'Set K')),
          h('button', { className: 'danger', onclick: () => { if (confirm(`Remove ${p.name}? Its blocks go at the next gc; your files are never deleted.`)) call('/v1/rm', { cid: p.cid }) } }, 'Remove')))
    })))
}

function renderUnfinished (unfinished) {
  $('unfinished-card').hidden = unfinished.length === 0
  $('unfinished').replaceChildren(table(
    [['root'], ['kept'], ['state'], ['into', 'hide-narrow'], ['']],
    unfinished.map(d => h('tr', { data: { cid: d.cid, state: d.state } },
      h('td', { className: 'mono wrap' }, short(d.path ?? d.cid)),
      h('td', {}, `${bytes(d.bytesDone)} of ${d.bytesTotal > 0 ? bytes(d.bytesTotal) : '?'}`),
      h('td', {}, d.state),
      h('td', { className: 'small wrap hide-narrow' }, d.target),
      h('td', {}, h('button', { className: 'danger', onclick: () => { if (confirm(`Give up the get into ${d.target}? Its .part is deleted; a pin of it stays.`)) call('/v1/rm', { cid: d.cid, downloadsOnly: true }) } }, 'Give up'))))))
}

function renderPeers (view) {
  $('peer-count').textContent = `${view.peers.length} connected`
  $('peers').replaceChildren(table([['peer'], ['up'], ['down']],
    view.peers.map(p => h('tr', { data: { peer: p.peerId } }, h('td', { className: 'mono', title: p.peerId }, short(p.peerId)), h('td', {}, rate(p.up)), h('td', {}, rate(p.down))))))
}

function renderBans (bans) {
  $('bans').replaceChildren(table([['peer'], ['until'], ['why']],
    bans.map(b => h('tr', {}, h('td', { className: 'mono', title: b.peer }, short(b.peer)), h('td', {}, new Date(b.until).toLocaleTimeString()), h('td', { className: 'small' }, b.reason)))))
}

function renderJobs (jobs) {
  $('jobs').replaceChildren(...jobs.map(j => h('li', { data: { state: j.state, cid: j.cid ?? '' } },
    `${j.kind === 'get' ? 'fetch' : 'upload'} ${j.kind === 'get' ? short(j.name) : j.name}: ${j.state}`,
    j.cid != null && j.kind === 'upload' ? ` → ${j.cid}` : '',
    j.state === 'done' && j.kind === 'get' ? ` → ${j.output}` : '',
    j.error != null ? ` (${j.error})` : '')))
}

function render (s) {
  renderSelf(s.self)
  renderChart(s.history, s.view)
  renderTransfers(s.view)
  renderPins(s.pins)
  renderUnfinished(s.unfinished)
  renderPeers(s.view)
  renderBans(s.bans)
  renderJobs(s.jobs)
  document.body.dataset.updated = String(s.at)
}

function connect () {
  const live = $('live')
  const events = new EventSource('/events')
  events.addEventListener('snapshot', e => {
    live.textContent = 'live'
    live.className = 'badge live'
    render(JSON.parse(e.data))
  })
  // the browser reconnects by itself (the feed asks it to retry every 2 s): a restarted daemon is found again.
  // It gives up only when the daemon answered with an error: the session ended (expired, or revoked)
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) {
      live.textContent = 'signed out'
      live.className = 'badge signed-out'
      showError('This browser is signed out (the session expired or was revoked): run `shoal webui` for a new link.')
      clearTimeout(showError.timer)
      return
    }
    live.textContent = 'reconnecting…'
    live.className = 'badge down'
  }
}

async function upload (files) {
  for (const file of files) {
    try {
      const res = await fetch(`/ui/upload?name=${encodeURIComponent(file.name)}`, { method: 'POST', body: file })
      if (!res.ok) throw new Error((await res.json()).error?.message ?? `${res.status}`)
    } catch (err) {
      showError(`${file.name}: ${err.message}`)
    }
  }
}

$('fetch-form').addEventListener('submit', async e => {
  e.preventDefault()
  const cid = $('fetch-cid').value.trim()
  if (await call('/ui/fetch', { cid }) != null) $('fetch-cid').value = ''
})
const drop = $('drop')
drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over') })
drop.addEventListener('dragleave', () => { drop.classList.remove('over') })
drop.addEventListener('drop', e => { e.preventDefault(); drop.classList.remove('over'); upload([...e.dataTransfer.files]) })
$('upload-input').addEventListener('change', e => { upload([...e.target.files]); e.target.value = '' })
connect()
