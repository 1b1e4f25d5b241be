import fs from 'node:fs/promises'
import http from 'node:http'
import { logger } from '@libp2p/logger'
import { ApiGuard } from './api-guard.js'
import { routeFor } from './api-routes.js'
import { HttpError, errorBody, sendJson, statusFor } from './http-util.js'
import type { ShoalNode } from '../node/shoal-node.js'

const log = logger('shoal:api')

export interface ApiServerInit {
  node: ShoalNode
  /** Path of the Unix socket (created with mode 0600). */
  socketPath: string
  /** Called when a client asks the daemon to stop. */
  onStopRequested(): void
  /** Also serve on TCP (loopback unless allowed otherwise), for clients holding the token. */
  tcp?: { host: string, port: number, token: string }
}

/**
 * The control API: HTTP + JSON on a Unix socket that only the repo's owner
 * can open (the socket is 0600 inside a 0700 repo). Long operations stream
 * NDJSON progress events; a client that disconnects cancels its operation.
 */
export class ApiServer {
  private readonly init: ApiServerInit
  private readonly server: http.Server
  private tcpServer?: http.Server
  private readonly controllers = new Set<AbortController>()

  constructor (init: ApiServerInit) {
    this.init = init
    this.server = http.createServer((req, res) => { void this.handle(req, res) })
  }

  /** The TCP API's URL, once it listens. */
  get url (): string | undefined {
    const address = this.tcpServer?.address()
    if (address == null || typeof address === 'string') return undefined
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  }

  async start (): Promise<void> {
    // the repo lock is held, so a socket left here belongs to a dead daemon
    await fs.rm(this.init.socketPath, { force: true })
    const mask = process.umask(0o177)
    try {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject)
        this.server.listen(this.init.socketPath, () => {
          this.server.off('error', reject)
          resolve()
        })
      })
    } finally {
      process.umask(mask)
    }
    await fs.chmod(this.init.socketPath, 0o600)
    if (this.init.tcp != null) await this.startTcp(this.init.tcp)
  }

  private async startTcp (tcp: { host: string, port: number, token: string }): Promise<void> {
    let guard: ApiGuard | undefined
    const server = http.createServer((req, res) => {
      try {
        guard!.check(req)
      } catch (err: any) {
        sendJson(res, err.status ?? 403, errorBody(err))
        return
      }
      void this.handle(req, res)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(tcp.port, tcp.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.tcpServer = server
    const address = server.address()
    guard = new ApiGuard(tcp.token, tcp.host, typeof address === 'object' && address != null ? address.port : tcp.port)
  }

  async stop (): Promise<void> {
    for (const c of this.controllers) c.abort(new Error('daemon stopping'))
    for (const server of [this.server, this.tcpServer]) {
      if (server == null) continue
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
    await fs.rm(this.init.socketPath, { force: true })
  }

  private async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const controller = new AbortController()
    this.controllers.add(controller)
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client went away'))
      this.controllers.delete(controller)
    })
    try {
      const route = routeFor(req.method, req.url)
      await route({
        node: this.init.node,
        req,
        res,
        signal: controller.signal,
        requestStop: () => { setImmediate(() => { this.init.onStopRequested() }) }
      })
    } catch (err: any) {
      log('%s %s failed: %s', req.method, req.url, err.message)
      const status = err instanceof HttpError ? err.status : statusFor(err.name)
      if (!res.headersSent) {
        sendJson(res, status, errorBody(err))
      } else {
        res.destroy(err)
      }
    }
  }
}
