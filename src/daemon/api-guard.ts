import { timingSafeEqual } from 'node:crypto'
import { HttpError } from './http-util.js'
import type { IncomingMessage } from 'node:http'

/**
 * Who may use the TCP control API: requests must carry the repo's token
 * (`Authorization: Bearer …`, else 401), name the address the API is bound
 * to in `Host` (else 403: DNS rebinding), and carry no `Origin` other than
 * the API's own (else 403: a web page's cross-site request).
 */
export class ApiGuard {
  private readonly token: Buffer
  private readonly hosts: Set<string>

  constructor (token: string, host: string, port: number) {
    this.token = Buffer.from(token)
    const names = host === '127.0.0.1' || host === '::1' ? [host, 'localhost'] : [host]
    this.hosts = new Set(names.map(n => `${n.includes(':') ? `[${n}]` : n}:${port}`))
  }

  check (req: IncomingMessage): void {
    const auth = req.headers.authorization ?? ''
    const given = Buffer.from(/^Bearer (\S+)$/.exec(auth)?.[1] ?? '')
    if (given.length !== this.token.length || !timingSafeEqual(given, this.token)) {
      throw new HttpError(401, 'missing or wrong API token (Authorization: Bearer <$REPO/api.token>)', 'Unauthorized')
    }
    const host = req.headers.host ?? ''
    if (!this.hosts.has(host)) {
      throw new HttpError(403, `Host ${JSON.stringify(host)} is not this API's address`, 'Forbidden')
    }
    const origin = req.headers.origin
    if (origin != null && !this.hosts.has(origin.replace(/^https?:\/\//, ''))) {
      throw new HttpError(403, `cross-origin requests are refused (Origin ${JSON.stringify(origin)})`, 'Forbidden')
    }
  }
}
