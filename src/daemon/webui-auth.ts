import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { SESSION_TTL, TICKET_TTL, WEB_SECRET_BYTES } from './constants.js'
import { HttpError } from './http-util.js'
import { openSecret, writeSecret } from './repo-secret.js'
import type { SecretKind } from './repo-secret.js'
import type { IncomingMessage } from 'node:http'

/** The session cookie's name. */
export const SESSION_COOKIE = 'shoal_session'

/**
 * The key sessions are signed with (`$REPO/webui.secret`): `WEB_SECRET_BYTES`
 * random bytes as hex. One that is empty, not hex or of another length is
 * replaced by a fresh one at start (the sessions it signed end with it).
 */
const WEB_SECRET: SecretKind = {
  make: () => randomBytes(WEB_SECRET_BYTES).toString('hex'),
  problem: text => {
    if (text === '') return 'it was empty'
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(text)) return 'it was not hex'
    if (text.length !== WEB_SECRET_BYTES * 2) return `it held ${text.length / 2} bytes, not ${WEB_SECRET_BYTES}`
    return undefined
  }
}

/**
 * A new signing key in `file`: every session and link signed so far is
 * void, now and after a restart. What `shoal webui --revoke` does when the
 * daemon serves no page (a running page also forgets its links: `WebAuth.revoke`).
 */
export async function rotateWebSecret (file: string): Promise<Buffer> {
  const value = WEB_SECRET.make()
  await writeSecret(file, value)
  return Buffer.from(value, 'hex')
}

/**
 * Who may use the web page: a browser that came through a one-time link
 * (minted on the owner-only control socket by `shoal webui`) gets a session
 * cookie (HttpOnly, SameSite=Strict), signed with a secret kept in the repo
 * (0600), so it survives a restart of the daemon and nothing is stored per
 * session. No token ever travels in a later URL. Every request must name
 * the page's own address in `Host` (DNS rebinding), and a request that
 * changes something must come from the page's own `Origin`. `revoke` ends
 * every session at once: a new secret, on disk before it is used.
 */
export class WebAuth {
  private readonly file: string
  private secret: Buffer
  private readonly tickets = new Map<string, number>()
  private hosts = new Set<string>()

  private constructor (file: string, secret: Buffer) {
    this.file = file
    this.secret = secret
  }

  /** The repo's web secret (made once, mode 0600; one too weak to use is replaced: `replaced` says why). */
  static async open (file: string): Promise<{ auth: WebAuth, replaced?: string }> {
    const secret = await openSecret(file, WEB_SECRET)
    return { auth: new WebAuth(file, Buffer.from(secret.value, 'hex')), replaced: secret.replaced }
  }

  /** End every session and every link not yet used (a restart keeps them ended: the secret is on disk first). */
  async revoke (): Promise<void> {
    this.secret = await rotateWebSecret(this.file)
    this.tickets.clear()
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
    // a session issued for longer than sessions last now (an older daemon's) ends early
    if (until == null || mac == null || !(Number(until) > now) || Number(until) > now + SESSION_TTL) return false
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
