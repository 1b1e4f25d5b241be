import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { defaultLogger } from '@libp2p/logger'
import { parseCID } from '../content/dag.js'
import { InputError } from '../errors.js'
import { http } from '../node-http.js'
import { routeFor } from './api-routes.js'
import { HttpError, errorBody, listen, readJson, sendJson, serverUrl, statusFor } from './http-util.js'
import { SESSION_TTL } from './constants.js'
import { SESSION_COOKIE, WebAuth } from './webui-auth.js'
import { WebFeed } from './webui-feed.js'
import type { Log } from './log.js'
import type { HandOverResult, ShoalNode } from '../node/shoal-node.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/** The page's files (HTML, script, style): served by the daemon itself, no CDN. */
const STATIC_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../webui')
const STATIC_FILES: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/app.css': 'app.css'
}
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

/** Jobs the page started that are remembered for it (the newest). */
const MAX_JOBS = 20

/** The longest name an upload may be stored under. */
const MAX_NAME = 200

/**
 * The control API's routes a web session may call: what the page reads and
 * what its buttons do. None names a path on this machine: the page fetches
 * into `REPO/downloads` and adds from `REPO/uploads` through its own
 * `/ui/fetch` and `/ui/upload`, which choose the path themselves (never
 * `force`). `add`, `get` and `import` (any path), `connect`, `gc` and
 * `webui` (signing browsers in, revoking sessions) stay with the owner's
 * socket and the TCP API's token.
 */
const PAGE_ROUTES = new Set([
  'GET /v1/id', 'GET /v1/ls', 'GET /v1/peers', 'GET /v1/replicas', 'GET /v1/transfers', 'GET /v1/stat',
  'POST /v1/status', 'POST /v1/providers', 'POST /v1/cat', 'POST /v1/export', 'POST /v1/verify',
  'POST /v1/cancel', 'POST /v1/replicate', 'POST /v1/rm', 'POST /v1/stop'
])

export interface WebUiInit {
  node: ShoalNode
  host: string
  /** 0: the port it had last time, if free, else one from the OS. */
  port: number
  logger?: ComponentLogger
  /** The operator's log: a weak secret replaced at start is said there. */
  log?: Log
  /** The page's stop button, as the control API's stop. */
  requestStop(): Promise<HandOverResult>
}

interface Job {
  kind: 'get' | 'upload'
  cid?: string
  name: string
  state: 'running' | 'done' | 'failed' | 'cancelled'
  output?: string
  error?: string
  startedAt: number
  endedAt?: number
}

/**
 * The daemon's own web page: who this peer is, its peers, every transfer
 * (cancel), pinned roots with their replication health (remove, set K),
 * bandwidth, bans; fetch by CID, add by upload. Served on a loopback TCP
 * address; a browser signs in through a one-time link (`shoal webui`) and
 * then holds a session cookie (`WebAuth`). The page reads a live feed
 * (server-sent events) and calls the control API's routes; it reconnects
 * by itself when the daemon restarts (same port, same cookie).
 */
export class WebUi {
  private readonly init: WebUiInit
  private readonly server: Server
  private readonly log: Logger
  private readonly feed: WebFeed
  private readonly jobs: Job[] = []
  private readonly controllers = new Set<AbortController>()
  private auth?: WebAuth

  constructor (init: WebUiInit) {
    this.init = init
    this.log = (init.logger ?? defaultLogger()).forComponent('shoal:webui')
    this.feed = new WebFeed(init.node, () => this.jobs)
    this.server = http.createServer((req, res) => { void this.handle(req, res) })
  }

  get url (): string | undefined {
    return serverUrl(this.server)
  }

  async start (): Promise<void> {
    const { node } = this.init
    const { auth, replaced } = await WebAuth.open(node.repo.paths.webSecret)
    if (replaced != null) this.init.log?.warn(`replaced ${node.repo.paths.webSecret} with a fresh random secret: ${replaced}; browsers must sign in again (shoal webui)`)
    this.auth = auth
    const last = this.init.port === 0 ? Number((await fs.readFile(node.repo.paths.webPort, 'utf8').catch(() => '')).trim()) : 0
    // a page open in a browser finds the restarted daemon where it was, if that port is still free
    const again = last > 0 && await listen(this.server, last, this.init.host).then(() => true, () => false)
    if (!again) await listen(this.server, this.init.port, this.init.host)
    const bound = (this.server.address() as { port: number }).port
    this.auth.bind(this.init.host, bound)
    await fs.writeFile(node.repo.paths.webPort, `${bound}\n`, { mode: 0o600 })
  }

  async stop (): Promise<void> {
    this.feed.stop()
    for (const c of this.controllers) c.abort()
    this.server.closeAllConnections()
    await this.close()
  }

  /** A one-time link that signs a browser in. */
  loginLink (): string {
    if (this.auth == null || this.url == null) throw new Error('the web page is not serving')
    return `${this.url}/login?ticket=${this.auth.ticket()}`
  }

  /**
   * End every browser's session and every link not yet used (`shoal webui
   * --revoke`): a new secret, on disk first, so a restart keeps them ended.
   * Open pages lose their feed and their requests in flight at once.
   */
  async revokeSessions (): Promise<void> {
    if (this.auth == null) throw new Error('the web page is not serving')
    await this.auth.revoke()
    // every open page's feed ends; its reconnection finds the session gone
    this.feed.stop()
    for (const c of this.controllers) c.abort()
  }

  private async close (): Promise<void> {
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = this.auth!
    const url = new URL(req.url ?? '/', 'http://page')
    try {
      if (url.pathname === '/favicon.ico') {
        // browsers ask for one on every page; the page has none
        res.writeHead(204, { 'cache-control': 'max-age=86400' }).end()
        return
      }
      if (url.pathname === '/login' && req.method === 'GET') {
        if (!auth.isOwnHost(req)) throw new HttpError(403, 'Host is not this page\'s address', 'Forbidden')
        const session = auth.login(url.searchParams.get('ticket') ?? '')
        res.writeHead(303, {
          location: '/',
          'set-cookie': `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_TTL / 1000}`,
          'cache-control': 'no-store'
        }).end()
        return
      }
      auth.check(req)
      await this.route(url, req, res)
    } catch (err: any) {
      const status = err instanceof HttpError ? err.status : statusFor(err.name)
      if (status >= 500) this.log.error('%s %s failed: %s', req.method, url.pathname, err.message)
      if (res.headersSent) {
        res.destroy()
      } else if (status === 401 && req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) {
        res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' })
          .end('<!doctype html><meta charset="utf-8"><title>Shoal</title><p>Not signed in. Run <code>shoal webui</code> on this machine and open the link it prints (it works once).</p>\n')
      } else {
        sendJson(res, status, errorBody(err))
      }
    }
  }

  private async route (url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const file = STATIC_FILES[url.pathname]
    if (file != null && req.method === 'GET') {
      const body = await fs.readFile(path.join(STATIC_DIR, file))
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)],
        'cache-control': 'no-cache',
        // everything comes from here: no other origin may supply script, style or frames
        'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff'
      }).end(body)
      return
    }
    const key = `${req.method ?? 'GET'} ${url.pathname}`
    if (key === 'GET /events') {
      this.feed.subscribe(res)
      return
    }
    if (key === 'POST /ui/fetch') {
      sendJson(res, 202, this.fetch(await readJson(req)))
      return
    }
    if (key === 'POST /ui/upload') {
      sendJson(res, 200, await this.upload(url, req))
      return
    }
    if (url.pathname.startsWith('/v1/')) {
      await this.api(req, res)
      return
    }
    throw new HttpError(404, `no such page: ${url.pathname}`, 'NotFoundError')
  }

  /** The control API's routes, for the page's buttons (rm, replicate, cancel, status…): `PAGE_ROUTES` only. */
  private async api (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = routeFor(req.method, req.url)
    const key = `${req.method ?? 'GET'} ${new URL(req.url ?? '/', 'http://page').pathname}`
    if (!PAGE_ROUTES.has(key)) throw new HttpError(403, `the web page may not call ${key}: it is for the owner's command line (the page fetches into REPO/downloads and adds what is uploaded to it)`, 'Forbidden')
    const controller = new AbortController()
    this.controllers.add(controller)
    res.on('close', () => {
      if (!res.writableFinished) controller.abort()
      this.controllers.delete(controller)
    })
    await route({ node: this.init.node, req, res, signal: controller.signal, requestStop: this.init.requestStop })
  }

  /** Fetch a root into the repo's downloads folder, in the background: the feed shows it. */
  private fetch (body: Record<string, any>): Job {
    const text = typeof body.cid === 'string' ? body.cid.trim() : ''
    const cid = parseCID(text)
    const { node } = this.init
    const output = path.join(node.repo.paths.downloads, cid.toString())
    const job: Job = { kind: 'get', cid: cid.toString(), name: cid.toString(), state: 'running', output, startedAt: Date.now() }
    this.remember(job)
    void (async () => {
      try {
        await fs.mkdir(node.repo.paths.downloads, { recursive: true })
        const result = await node.get(cid, output, { pin: true })
        job.state = 'done'
        job.output = result.output
      } catch (err: any) {
        job.state = err.name === 'AbortError' ? 'cancelled' : 'failed'
        job.error = err.message
      }
      job.endedAt = Date.now()
    })()
    return job
  }

  /** Store an uploaded file in the repo's uploads folder, then add it there (one copy, pinned). */
  private async upload (url: URL, req: IncomingMessage): Promise<Job> {
    const name = path.basename(url.searchParams.get('name') ?? '')
    if (name === '' || name === '.' || name === '..' || name.length > MAX_NAME || name.includes('\0')) throw new InputError('an upload needs a file name (?name=…)')
    const { node } = this.init
    await fs.mkdir(node.repo.paths.uploads, { recursive: true })
    const target = await freeName(node.repo.paths.uploads, name)
    const job: Job = { kind: 'upload', name, state: 'running', output: target, startedAt: Date.now() }
    this.remember(job)
    const part = `${target}.part`
    try {
      await pipeline(req, createWriteStream(part, { flags: 'wx', mode: 0o600 }))
      await fs.rename(part, target)
      const added = await node.add(target, { pin: true })
      job.cid = added.cid.toString()
      job.state = 'done'
    } catch (err: any) {
      await fs.rm(part, { force: true })
      job.state = 'failed'
      job.error = err.message
      throw err
    } finally {
      job.endedAt = Date.now()
    }
    return job
  }

  private remember (job: Job): void {
    this.jobs.unshift(job)
    if (this.jobs.length > MAX_JOBS) this.jobs.pop()
  }
}

/** `name` in `dir`, or `name (2)`, `name (3)`… if it is taken: an upload never replaces a file. */
async function freeName (dir: string, name: string): Promise<string> {
  const ext = path.extname(name)
  const stem = name.slice(0, name.length - ext.length)
  for (let i = 1; ; i++) {
    const candidate = path.join(dir, i === 1 ? name : `${stem} (${i})${ext}`)
    const taken = await fs.lstat(candidate).then(() => true, () => false) || await fs.lstat(`${candidate}.part`).then(() => true, () => false)
    if (!taken) return candidate
  }
}
