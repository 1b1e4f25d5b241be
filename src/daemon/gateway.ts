import { defaultLogger } from '@libp2p/logger'
import { InputError, NoProvidersError } from '../errors.js'
import { http } from '../node-http.js'
import { GATEWAY_FIND_TIMEOUT, GATEWAY_HEADERS_TIMEOUT, GATEWAY_MAX_REQUESTS } from './constants.js'
import { CAR_TYPE, RAW_TYPE, contentTypeOf, entityRange, parseGatewayRequest, parseRange } from './gateway-request.js'
import { drained, listen, serverUrl, statusFor } from './http-util.js'
import type { GatewayRequest } from './gateway-request.js'
import type { ReadOptions } from '../node/reads.js'
import type { ShoalNode } from '../node/shoal-node.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http'

export interface GatewayInit {
  node: ShoalNode
  host: string
  port: number
  /** Fetch from the swarm what is not here (false: only local content; the rest is 404). */
  fetch: boolean
  logger?: ComponentLogger
  /** Requests served at once; more are answered 429. */
  maxRequests?: number
  /** How long a request may wait for content nobody is found to hold, or that stops arriving (ms): then 504. */
  findTimeout?: number
}

const IMMUTABLE = 'public, max-age=29030400, immutable'

/**
 * Headers on every answer. What the gateway serves is anybody's content, on
 * the same site as the daemon's web page (both on loopback), so it is never
 * given an origin of its own: `sandbox` puts an HTML page in a unique opaque
 * origin and runs none of its scripts (no cookie of this host read or set,
 * no request of its carries this site's cookies or `Origin`), and the
 * browser takes the type as given (`nosniff`: no text file turned into HTML).
 */
const SAFETY_HEADERS = { 'content-security-policy': 'sandbox', 'x-content-type-options': 'nosniff' }

/**
 * A read-only trustless HTTP gateway (https://specs.ipfs.tech/http-gateways/trustless-gateway/):
 * `GET`/`HEAD /ipfs/{cid}[/path]` answers a block (`application/vnd.ipld.raw`),
 * a CAR (`application/vnd.ipld.car`, with `dag-scope` and `entity-bytes`),
 * or the file itself with `Range` and an ETag (a browser plays and seeks a
 * video); a directory is a plain list of links. What is not held here is
 * fetched from the swarm (only the blocks the answer needs) within
 * `findTimeout`, or refused. Bad CIDs and paths are 400, missing names 404,
 * content nobody serves in time 504; it never writes, pins or stores
 * beyond the block cache. Every answer is sandboxed (`SAFETY_HEADERS`).
 */
export class Gateway {
  private readonly init: GatewayInit
  private readonly server: Server
  private readonly log: Logger
  private readonly controllers = new Set<AbortController>()
  private inFlight = 0

  constructor (init: GatewayInit) {
    this.init = init
    this.log = (init.logger ?? defaultLogger()).forComponent('shoal:gateway')
    this.server = http.createServer((req, res) => { void this.handle(req, res) })
    // a client that sends its headers slowly, or never, is hung up on
    this.server.headersTimeout = GATEWAY_HEADERS_TIMEOUT
    this.server.requestTimeout = GATEWAY_HEADERS_TIMEOUT
  }

  get url (): string | undefined {
    return serverUrl(this.server)
  }

  async start (): Promise<void> {
    await listen(this.server, this.init.port, this.init.host)
  }

  async stop (): Promise<void> {
    for (const c of this.controllers) c.abort(new InputError('gateway stopping'))
    this.server.closeAllConnections()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [name, value] of Object.entries(SAFETY_HEADERS)) res.setHeader(name, value)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('the gateway is read-only: GET and HEAD only\n')
      return
    }
    if (this.inFlight >= (this.init.maxRequests ?? GATEWAY_MAX_REQUESTS)) {
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain; charset=utf-8' }).end('too many requests in flight\n')
      return
    }
    this.inFlight++
    const controller = new AbortController()
    this.controllers.add(controller)
    res.once('close', () => { controller.abort(new InputError('client went away')) })
    const started = Date.now()
    try {
      const request = parseGatewayRequest(req.method, new URL(req.url ?? '/', 'http://gateway'), req.headers.accept)
      const options: ReadOptions = {
        path: request.path,
        signal: controller.signal,
        providerTimeout: this.init.findTimeout ?? GATEWAY_FIND_TIMEOUT,
        fetch: this.init.fetch
      }
      await this.answer(req, res, request, options)
      this.log('%s %s %d (%d ms)', req.method, req.url, res.statusCode, Date.now() - started)
    } catch (err: any) {
      this.log('%s %s failed: %s', req.method, req.url, err.message)
      this.fail(res, err)
    } finally {
      this.inFlight--
      this.controllers.delete(controller)
    }
  }

  private async answer (req: IncomingMessage, res: ServerResponse, request: GatewayRequest, options: ReadOptions): Promise<void> {
    const node = this.init.node
    const contentPath = `/ipfs/${[request.cid.toString(), ...request.path].join('/')}`
    const common: OutgoingHttpHeaders = { 'x-ipfs-path': contentPath, vary: 'Accept' }
    if (request.format === 'raw') {
      const target = request.path.length === 0 ? request.cid : (await node.resolve(request.cid, options)).cid
      const etag = `"${target.toString()}.raw"`
      if (notModified(req, res, etag, common)) return
      const bytes = await node.block(target, { ...options, holdersOf: request.cid })
      res.writeHead(200, {
        ...common,
        'content-type': RAW_TYPE,
        'content-length': bytes.byteLength,
        etag,
        'cache-control': IMMUTABLE,
        'content-disposition': `attachment; filename="${target.toString()}.bin"`
      })
      res.end(request.head ? undefined : bytes)
      return
    }
    if (request.format === 'car') {
      let range
      const resolved = await node.resolve(request.cid, options)
      if (request.entityBytes != null && resolved.type === 'file') range = entityRange(request.entityBytes, resolved.size)
      const etag = `"${resolved.cid.toString()}.car.${request.dagScope}${range == null ? '' : `.${range.from}-${range.to}`}"`
      if (notModified(req, res, etag, common)) return
      const headers = {
        ...common,
        'content-type': `${CAR_TYPE}; version=1; order=dfs; dups=n`,
        etag,
        'cache-control': IMMUTABLE,
        'content-disposition': `attachment; filename="${request.cid.toString()}.car"`
      }
      if (request.head) {
        res.writeHead(200, headers).end()
        return
      }
      await this.stream(res, 200, headers, node.exportScoped(request.cid, request.dagScope, { ...options, range }))
      return
    }
    const resolved = await node.resolve(request.cid, options)
    if (resolved.type === 'directory') {
      await this.directory(res, request, contentPath, common, options)
      return
    }
    if (resolved.type !== 'file' && resolved.type !== 'raw') {
      throw new InputError(`${contentPath} is not a file or directory; ask for ?format=raw or ?format=car`)
    }
    const etag = `"${resolved.cid.toString()}"`
    if (notModified(req, res, etag, common)) return
    const size = resolved.size
    const range = parseRange(req.headers.range, size)
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...common, 'content-range': `bytes */${size}` }).end()
      return
    }
    const name = request.path.at(-1)
    // the first bytes say the type when the name does not
    const sniff = await first(node.cat(resolved.cid, { ...options, path: [], holdersOf: request.cid, range: { from: 0, to: Math.min(size, 512) } }))
    const headers: OutgoingHttpHeaders = {
      ...common,
      'content-type': contentTypeOf(name, sniff),
      'accept-ranges': 'bytes',
      etag,
      'cache-control': IMMUTABLE,
      'content-length': range == null ? size : range.to - range.from
    }
    if (range != null) headers['content-range'] = `bytes ${range.from}-${range.to - 1}/${size}`
    const status = range == null ? 200 : 206
    if (request.head) {
      res.writeHead(status, headers).end()
      return
    }
    await this.stream(res, status, headers, node.cat(resolved.cid, { ...options, path: [], holdersOf: request.cid, range }))
  }

  private async directory (res: ServerResponse, request: GatewayRequest, contentPath: string, common: OutgoingHttpHeaders, options: ReadOptions): Promise<void> {
    const entries = await this.init.node.list(request.cid, options)
    const base = contentPath.split('/').map(encodeURIComponent).join('/')
    const rows = entries.map(e => `<li><a href="${base}/${encodeURIComponent(e.name)}">${escapeHtml(e.name)}</a> <small>${e.size} B</small></li>`)
    const html = `<!doctype html><meta charset="utf-8"><title>${escapeHtml(contentPath)}</title><h1>${escapeHtml(contentPath)}</h1><ul>${rows.join('')}</ul>\n`
    res.writeHead(200, { ...common, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) })
    res.end(request.head ? undefined : html)
  }

  /** Send what `content` yields; an error before the first byte gets its status, after it the connection is cut (never a short body presented as whole). */
  private async stream (res: ServerResponse, status: number, headers: OutgoingHttpHeaders, content: AsyncGenerator<Uint8Array>): Promise<void> {
    const firstChunk = await content.next()
    res.writeHead(status, headers)
    try {
      if (firstChunk.done !== true) {
        if (!res.write(firstChunk.value)) await drained(res)
        for await (const chunk of content) {
          // the client went away: nobody reads the rest (ending the loop ends the read, and its lease)
          if (res.destroyed) break
          if (!res.write(chunk)) await drained(res)
        }
      }
      res.end()
    } catch (err: any) {
      this.log('response cut: %s', err.message)
      res.destroy(err)
    }
  }

  private fail (res: ServerResponse, err: any): void {
    if (res.headersSent) {
      res.destroy(err)
      return
    }
    const status = statusOf(err)
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(err?.message ?? err)}\n`)
  }
}

/** The status for an error, as the gateway specification asks: content nobody serves in time is a 504, not a 404. */
function statusOf (err: any): number {
  if (err instanceof NoProvidersError || err?.name === 'TimeoutError') return 504
  if (err?.name === 'BlockNotFoundError') return 404
  const status = statusFor(String(err?.name))
  return status === 499 ? 504 : status
}

function notModified (req: IncomingMessage, res: ServerResponse, etag: string, common: OutgoingHttpHeaders): boolean {
  const match = req.headers['if-none-match']
  if (match == null || !match.split(',').map(s => s.trim()).includes(etag)) return false
  res.writeHead(304, { ...common, etag, 'cache-control': IMMUTABLE }).end()
  return true
}

async function first (content: AsyncGenerator<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of content) parts.push(chunk)
  return Buffer.concat(parts)
}

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}
