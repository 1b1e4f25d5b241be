import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs/promises'
import { SESSION_TTL, TICKET_TTL } from './constants.js'
import { HttpError } from './http-util.js'
import type { IncomingMessage } from 'node:http'

/** The session cookie's name. */
export const SESSION_COOKIE = 'shoal_session'

/**
 * Who may use the web page: a browser that came through a one-time link
 * (minted on the owner-only control socket by `shoal webui`) gets a session
 * cookie (HttpOnly, SameSite=Strict), signed with a secret kept in the repo
 * (0600), so it survives a restart of the daemon and nothing is stored per
 * session. No token ever travels in a later URL. Every request must name
 * the page's own address in `Host` (DNS rebinding), and a request that
 * changes something must come from the page's own `Origin`.
 */
export class WebAuth {
  private readonly secret: Buffer
  private readonly tickets = new Map<string, number>()
  private hosts = new Set<string>()

  private constructor (secret: Buffer) {
    this.secret = secret
  }

  /** The repo's web secret (made once, 32 random bytes, mode 0600). */
  static async open (file: string): Promise<WebAuth> {
    let secret: Buffer
    try {
      secret = Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'hex')
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
      secret = randomBytes(32)
      await fs.writeFile(file, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' })
    }
    return new WebAuth(secret)
  }

  /** The address the page is served on: `Host` and `Origin` must name it. */
  bind (host: string, port: number): void {
    const names = host === '127.0.0.1' || host === '::1' ? [host, 'localhost'] : [host]
    this.hosts = new Set(names.map(n => `${n.includes(':') ? `[${n}]` : n}:${port}`))
  }

  /** A one-time ticket for a login link. */
  ticket (now = Date.now()): string {
    for (const [t, expires] of this.tickets) if (expires <= now) this.tickets.delete(t)
    const t = randomBytes(24).toString('base64url')
    this.tickets.set(t, now + TICKET_TTL)
    return t
  }

  /** Spend a ticket: a session cookie's value, or an error if it was used, expired or never issued. */
  login (ticket: string, now = Date.now()): string {
    const expires = this.tickets.get(ticket)
    this.tickets.delete(ticket)
    if (expires == null || expires <= now) throw new HttpError(401, 'this login link was used already or has expired: run `shoal webui` for a new one', 'Unauthorized')
    const until = now + SESSION_TTL
    return `${until}.${this.sign(String(until))}`
  }

  /** Check a request: the page's Host, a live session cookie, and for a change its own Origin. */
  check (req: IncomingMessage, now = Date.now()): void {
    const host = req.headers.host ?? ''
    if (!this.hosts.has(host)) throw new HttpError(403, `Host ${JSON.stringify(host)} is not this page's address`, 'Forbidden')
    if (!this.validSession(cookie(req, SESSION_COOKIE), now)) throw new HttpError(401, 'no session: open the link `shoal webui` prints', 'Unauthorized')
    const origin = req.headers.origin
    const changes = req.method !== 'GET' && req.method !== 'HEAD'
    if ((changes || origin != null) && !this.hosts.has((origin ?? '').replace(/^https?:\/\//, ''))) {
      throw new HttpError(403, `cross-origin requests are refused (Origin ${JSON.stringify(origin ?? null)})`, 'Forbidden')
    }
  }

  /** Whether `Host` names the page (checked before a login, too). */
  isOwnHost (req: IncomingMessage): boolean {
    return this.hosts.has(req.headers.host ?? '')
  }

  private validSession (value: string | undefined, now: number): boolean {
    const [until, mac] = (value ?? '').split('.')
    if (until == null || mac == null || !(Number(until) > now)) return false
    const expected = Buffer.from(this.sign(until))
    const given = Buffer.from(mac)
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  private sign (text: string): string {
    return createHmac('sha256', this.secret).update(`shoal-webui-session:${text}`).digest('base64url')
  }
}

/** A cookie's value from the request. */
function cookie (req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
