import fs from 'node:fs/promises'
import { AbortError } from '@libp2p/interface'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { http } from '../node-http.js'
import { defaultLogger } from '@libp2p/logger'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import { ApiGuard } from './api-guard.js'
import { routeFor } from './api-routes.js'
import { HttpError, errorBody, listen, sendJson, serverUrl, statusFor } from './http-util.js'
import type { ShoalNode } from '../node/shoal-node.js'
import type { HandOverResult } from '../node/shoal-node.js'

/** How long a stopping API waits for requests in flight to send their last event (ms). */
const DRAIN_TIMEOUT = 2_000

export interface ApiServerInit {
  /** The node's logger (by default one of its own). */
  logger?: ComponentLogger
  node: ShoalNode
  /** Path of the Unix socket (created with mode 0600). */
  socketPath: string
  /** A client asks the daemon to stop: resolves once replicas are handed over (the API closes after). */
  requestStop(): Promise<HandOverResult>
  /** A one-time link that signs a browser in to the web page, if one is served. */
  loginLink?(): string | undefined
  /** End every web page session (`POST /v1/webui/revoke`). */
  revokeSessions?(): Promise<{ served: boolean }>
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
  private readonly server: Server
  private tcpServer?: Server
  private readonly controllers = new Set<AbortController>()
  private readonly active = new Set<Promise<void>>()

  private readonly log: Logger

  constructor (init: ApiServerInit) {
    this.init = init
    this.log = (init.logger ?? defaultLogger()).forComponent('shoal:api')
    this.server = http.createServer((req, res) => { this.track(this.handle(req, res)) })
  }

  /** The TCP API's URL, once it listens. */
  get url (): string | undefined {
    return this.tcpServer == null ? undefined : serverUrl(this.tcpServer)
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
    // the guard needs the port the server got
    const tcpGuard: { guard?: ApiGuard } = {}
    const server = http.createServer((req, res) => {
      try {
        tcpGuard.guard!.check(req)
      } catch (err: any) {
        sendJson(res, err.status ?? 403, errorBody(err))
        return
      }
      this.track(this.handle(req, res))
    })
    await listen(server, tcp.port, tcp.host)
    this.tcpServer = server
    const address = server.address()
    tcpGuard.guard = new ApiGuard(tcp.token, tcp.host, typeof address === 'object' && address != null ? address.port : tcp.port)
  }

  /** Cancel what runs, let it send its last event (briefly), then close. */
  async stop (): Promise<void> {
    for (const c of this.controllers) c.abort(new AbortError('daemon stopping'))
    const drained = Promise.allSettled([...this.active])
    await Promise.race([drained, new Promise(resolve => setTimeout(resolve, DRAIN_TIMEOUT).unref())])
    for (const server of [this.server, this.tcpServer]) {
      if (server == null) continue
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
    await fs.rm(this.init.socketPath, { force: true })
  }

  private track (handling: Promise<void>): void {
    this.active.add(handling)
    void handling.finally(() => { this.active.delete(handling) })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController()
    this.controllers.add(controller)
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new AbortError('client went away'))
      this.controllers.delete(controller)
    })
    try {
      const route = routeFor(req.method, req.url)
      await route({
        node: this.init.node,
        req,
        res,
        signal: controller.signal,
        requestStop: async () => await this.init.requestStop(),
        loginLink: this.init.loginLink,
        revokeSessions: this.init.revokeSessions
      })
    } catch (err: any) {
      this.log('%s %s failed: %s', req.method, req.url, err.message)
      const status = err instanceof HttpError ? err.status : statusFor(err.name)
      if (!res.headersSent) {
        sendJson(res, status, errorBody(err))
      } else {
        res.destroy(err)
      }
    }
  }
}
