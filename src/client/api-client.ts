import { pipeline } from 'node:stream/promises'
import type { IncomingMessage } from 'node:http'
import { http } from '../node-http.js'
import { repoPaths } from '../store/repo-layout.js'
import { ShoalError } from '../errors.js'

/** No daemon answers on the repo's socket. */
class DaemonNotRunningError extends ShoalError {
  static override readonly name = 'DaemonNotRunningError'
  override name = 'DaemonNotRunningError'
}

/**
 * The daemon went away while a request was under way: the connection closed
 * before its answer was whole (the daemon was killed, crashed or stopped).
 */
export class DaemonGoneError extends ShoalError {
  static override readonly name = 'DaemonGoneError'
  override name = 'DaemonGoneError'
}

/** The message of a DaemonGoneError. */
const DAEMON_GONE = 'the daemon went away (connection closed) before it finished'

/** Whether `err` is the socket closing under an answer being read (Node's "aborted"). */
function connectionLost (err: any): boolean {
  return err?.code === 'ECONNRESET' || err?.message === 'aborted'
}

/** An error the daemon reported, carrying the daemon's error name. */
class RemoteError extends ShoalError {
  constructor (name: string, message: string) {
    super(message)
    this.name = name
  }
}

/**
 * The CLI's side of the control API: HTTP on the repo's Unix socket.
 */
export class ApiClient {
  readonly repo: string
  readonly socketPath: string

  constructor (repo: string) {
    this.repo = repo
    this.socketPath = repoPaths(repo).apiSocket
  }

  /** A request whose answer is one JSON object. */
  async json<T = any> (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await this.request(method, path, body, signal)
    const parsed = await readJson(res).catch(err => { throw connectionLost(err) ? new DaemonGoneError(DAEMON_GONE) : err })
    if ((res.statusCode ?? 500) >= 400) throw remoteError(res, parsed)
    return parsed
  }

  /**
   * A request answered with NDJSON events: calls `onEvent` for each one and
   * resolves with the final `result` event, or throws the `error` event.
   */
  async events<T = any> (path: string, body: unknown, onEvent: (event: any) => void, signal?: AbortSignal): Promise<T> {
    try {
      return await this.readEvents<T>(path, body, onEvent, signal)
    } catch (err) {
      // a cancelled request fails in whatever way the socket noticed first: say why it was cancelled
      if (signal?.aborted === true) throw signal.reason
      // the daemon's end closed under the events: say so, not the socket's "aborted"
      if (connectionLost(err)) throw new DaemonGoneError(DAEMON_GONE)
      throw err
    }
  }

  private async readEvents<T> (path: string, body: unknown, onEvent: (event: any) => void, signal?: AbortSignal): Promise<T> {
    const res = await this.request('POST', path, body, signal)
    if ((res.statusCode ?? 500) >= 400) throw remoteError(res, await readJson(res))
    let buffer = ''
    let result: T | undefined
    for await (const chunk of res) {
      buffer += chunk.toString('utf8')
      let nl
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        if (line.trim() === '') continue
        const event = JSON.parse(line)
        if (event.type === 'error') {
          throw new RemoteError(event.error?.name ?? 'Error', event.error?.message ?? 'failed')
        }
        if (event.type === 'result') result = event
        onEvent(event)
      }
    }
    if (result == null) throw new DaemonGoneError(DAEMON_GONE)
    return result
  }

  /** A request answered with raw bytes (cat). */
  async stream (path: string, body: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const res = await this.request('POST', path, body, signal)
    if ((res.statusCode ?? 500) >= 400) throw remoteError(res, await readJson(res))
    return res
  }

  private async request (method: string, path: string, body: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const payload = body == null ? undefined : JSON.stringify(body)
    return await new Promise((resolve, reject) => {
      const req = http.request({
        socketPath: this.socketPath,
        path,
        method,
        signal,
        headers: payload == null ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
      }, resolve)
      req.on('error', (err: any) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          reject(new DaemonNotRunningError(`no Shoal daemon is running for repo ${this.repo} (start one with: shoal daemon --repo ${this.repo})`))
        } else if (err.code === 'ECONNRESET' || err.code === 'EPIPE') {
          reject(new DaemonGoneError(DAEMON_GONE))
        } else {
          reject(err)
        }
      })
      req.end(payload)
    })
  }
}

async function readJson (res: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk)
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ShoalError(`the daemon sent an unreadable answer (status ${res.statusCode})`)
  }
}

/**
 * Copy a byte stream's answer (`stream`) into `sink` to its end, then throw
 * what the daemon's `x-shoal-error` trailer says went wrong, or
 * DaemonGoneError if the answer stopped short (the connection closed). A
 * failure of the sink (a reader that closed stdout) is the sink's own.
 * `what` names the output in the message.
 */
export async function copyStream (res: IncomingMessage, sink: NodeJS.WritableStream, options: { end: boolean }, what: string): Promise<void> {
  try {
    await pipeline(res, sink, options)
  } catch (err) {
    if (res.complete || !connectionLost(err)) throw err
  }
  const trailer = res.trailers['x-shoal-error']
  if (trailer != null) {
    const err = JSON.parse(trailer)
    throw new RemoteError(err.name ?? 'Error', `${err.message ?? 'failed'} (${what} is incomplete)`)
  }
  if (!res.complete) throw new DaemonGoneError(`${DAEMON_GONE} (${what} is incomplete)`)
}

/** The typed error a failed request carries in its `{ error: { name, message } }` body. */
function remoteError (res: IncomingMessage, body: any): RemoteError {
  return new RemoteError(body?.error?.name ?? 'Error', body?.error?.message ?? `status ${res.statusCode}`)
}
