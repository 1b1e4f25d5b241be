import { defaultLogger } from '@libp2p/logger'
import { http } from '../node-http.js'
import { listen, serverUrl } from './http-util.js'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'

export interface MetricsServerInit {
  registry: Registry
  host: string
  port: number
  /** Whether the daemon is up and serving (`/healthz` says 503 otherwise), and what to tell about it. */
  health(): { ok: boolean, peers: number }
  logger?: ComponentLogger
}

/**
 * Read-only HTTP for monitoring: `GET /metrics` in the Prometheus text
 * format (Shoal's and libp2p's metrics), `GET /healthz` for a load balancer
 * or a watchdog (200 while the daemon serves, 503 once it is stopping).
 * Binds loopback unless the operator allowed otherwise.
 */
export class MetricsServer {
  private readonly init: MetricsServerInit
  private readonly server: Server
  private readonly log: Logger

  constructor (init: MetricsServerInit) {
    this.init = init
    this.log = (init.logger ?? defaultLogger()).forComponent('shoal:metrics')
    this.server = http.createServer((req, res) => { void this.handle(req, res) })
  }

  get url (): string | undefined {
    return serverUrl(this.server)
  }

  async start (): Promise<void> {
    await listen(this.server, this.init.port, this.init.host)
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('GET or HEAD only\n')
      return
    }
    try {
      if (path === '/metrics') {
        const body = await this.init.registry.metrics()
        res.writeHead(200, { 'content-type': this.init.registry.contentType, 'content-length': Buffer.byteLength(body) })
        res.end(req.method === 'HEAD' ? undefined : body)
      } else if (path === '/healthz') {
        const health = this.init.health()
        const body = JSON.stringify({ status: health.ok ? 'ok' : 'stopping', peers: health.peers }) + '\n'
        res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(req.method === 'HEAD' ? undefined : body)
      } else {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics or /healthz\n')
      }
    } catch (err: any) {
      this.log.error('%s %s failed: %s', req.method, req.url, err.message)
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
      res.end(`metrics failed: ${String(err.message)}\n`)
    }
  }
}
