import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { InputError } from '../errors.js'

/** Largest control-API request body accepted. */
const MAX_BODY_SIZE = 64 * 1024

export class HttpError extends Error {
  constructor (readonly status: number, message: string, readonly errorName = 'HttpError') {
    super(message)
    this.name = errorName
  }
}

/** Status code for a typed error's name. */
export function statusFor (name: string): number {
  switch (name) {
    case 'InvalidCIDError':
    case 'InputError':
    case 'ConfigError':
    case 'NotAFileError':
    case 'ReplicationError':
      return 400
    case 'NotFoundError':
    case 'NoProvidersError':
    case 'BlockNotFoundError':
      return 404
    case 'DagLimitError':
      return 422
    case 'AbortError':
      return 499
    default:
      return 500
  }
}

export function errorBody (err: any): { error: { name: string, message: string } } {
  return { error: { name: String(err?.name ?? 'Error'), message: String(err?.message ?? err) } }
}

export async function readJson (req: IncomingMessage): Promise<Record<string, any>> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += chunk.length
    if (size > MAX_BODY_SIZE) throw new HttpError(413, 'request body too large')
    chunks.push(chunk)
  }
  if (size === 0) return {}
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new InputError('not an object')
    return value
  } catch {
    throw new HttpError(400, 'request body is not a JSON object')
  }
}

export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** A response of newline-delimited JSON events; `send` waits for the socket to drain. */
export function ndjson (res: ServerResponse): { send(event: unknown): Promise<void>, end(): void } {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' })
  return {
    async send (event) {
      if (res.destroyed) return
      if (!res.write(JSON.stringify(event) + '\n')) {
        await new Promise<void>(resolve => {
          const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
          res.on('drain', done)
          res.on('close', done)
        })
      }
    },
    end () { res.end() }
  }
}

/** Calls `fn` at most once per `ms` (and lets the last call through with `flush`). */
export function throttle<T> (ms: number, fn: (value: T) => void): { (value: T): void, flush(): void } {
  let last = 0
  let pending: { value: T } | undefined
  const call = (value: T): void => {
    const now = Date.now()
    if (now - last >= ms) {
      last = now
      pending = undefined
      fn(value)
    } else {
      pending = { value }
    }
  }
  call.flush = () => {
    if (pending != null) fn(pending.value)
    pending = undefined
  }
  return call
}

/** Resolves when `res` can take more (or is closed: the writer then stops on its own). */
export async function drained (res: ServerResponse): Promise<void> {
  // a response closed already will send neither event: the writer must not wait for one
  if (res.destroyed || res.closed || res.writableEnded) return
  await new Promise<void>(resolve => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
    res.on('drain', done)
    res.on('close', done)
  })
}

/** Start `server` listening on `host`:`port` (0: a port from the OS). */
export async function listen (server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** `http://host:port` of a listening TCP server. */
export function serverUrl (server: Server): string | undefined {
  const address = server.address()
  if (address == null || typeof address === 'string') return undefined
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
}
