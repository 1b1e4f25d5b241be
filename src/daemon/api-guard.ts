import { randomBytes, timingSafeEqual } from 'node:crypto'
import { MIN_API_TOKEN_LENGTH } from './constants.js'
import { HttpError } from './http-util.js'
import type { SecretKind } from './repo-secret.js'
import type { IncomingMessage } from 'node:http'

/**
 * The TCP API's token (`$REPO/api.token`): 32 random bytes as hex. One that
 * is empty, shorter than `MIN_API_TOKEN_LENGTH` or holds characters a
 * `Bearer` header cannot carry is replaced by a fresh one at start.
 */
export const API_TOKEN: SecretKind = {
  make: () => randomBytes(32).toString('hex'),
  problem: text => {
    if (text === '') return 'it was empty'
    if (!/^[\x21-\x7e]+$/.test(text)) return 'it held characters other than visible ASCII'
    if (text.length < MIN_API_TOKEN_LENGTH) return `it was ${text.length} characters long, fewer than ${MIN_API_TOKEN_LENGTH}`
    return undefined
  }
}

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
    const problem = API_TOKEN.problem(token)
    if (problem != null) throw new Error(`the API token cannot be used: ${problem}`)
    this.token = Buffer.from(token)
    const names = host === '127.0.0.1' || host === '::1' ? [host, 'localhost'] : [host]
    this.hosts = new Set(names.map(n => `${n.includes(':') ? `[${n}]` : n}:${port}`))
  }

  check (req: IncomingMessage): void {
    const auth = req.headers.authorization ?? ''
    const given = Buffer.from(/^Bearer (\S+)$/.exec(auth)?.[1] ?? '')
    if (given.length === 0 || given.length !== this.token.length || !timingSafeEqual(given, this.token)) {
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
