import path from 'node:path'
import { CONNECT_TIMEOUT, PROVIDERS_TIMEOUT } from './constants.js'
import { CAR_CONTENT_TYPE } from '../content/car.js'
import { parseCID, parseContentPath } from '../content/dag.js'
import { parseErasure } from '../content/erasure.js'
import { chunkSize as checkChunkSize } from '../config/validate.js'
import { InputError } from '../errors.js'
import { HttpError, drained, errorBody, ndjson, readJson, sendJson, throttle } from './http-util.js'
import type { ErasureScheme } from '../content/erasure.js'
import type { HandOverResult, ShoalNode } from '../node/shoal-node.js'
import type { IncomingMessage, ServerResponse } from 'node:http'

interface RouteContext {
  node: ShoalNode
  req: IncomingMessage
  res: ServerResponse
  /** Aborted when the client goes away. */
  signal: AbortSignal
  /** Ask the daemon to shut down: resolves once its replicas are handed over. */
  requestStop(): Promise<HandOverResult>
  /** A one-time link that signs a browser in to the web page (undefined: no page is served). */
  loginLink?(): string | undefined
  /** End every web page session and unused link; `served`: whether a page is served now. */
  revokeSessions?(): Promise<{ served: boolean }>
}

export type Route = (ctx: RouteContext) => Promise<void>

/** How often progress events are sent to a client. */
const PROGRESS_INTERVAL = 200

function str (body: Record<string, any>, name: string): string {
  const v = body[name]
  if (typeof v !== 'string' || v === '') throw new InputError(`missing "${name}"`)
  return v
}

function absPath (body: Record<string, any>, name: string): string {
  const p = str(body, name)
  if (!path.isAbsolute(p)) throw new InputError(`"${name}" must be an absolute path`)
  return p
}

function optNumber (body: Record<string, any>, name: string): number | undefined {
  const v = body[name]
  if (v == null) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InputError(`"${name}" must be a positive number`)
  return v
}

/** `erasure`: "K+M", or absent. */
function optErasure (body: Record<string, any>): ErasureScheme | undefined {
  const v = body.erasure
  if (v == null) return undefined
  if (typeof v !== 'string') throw new InputError('"erasure" must be a string such as "4+2"')
  return parseErasure(v)
}

function optInt (body: Record<string, any>, name: string): number | undefined {
  const v = optNumber(body, name)
  if (v != null && !Number.isSafeInteger(v)) throw new InputError(`"${name}" must be a whole number`)
  return v
}

/**
 * Send the bytes `content` yields. An error before the first byte is a plain
 * JSON error; after it, the response ends with an `x-shoal-error` trailer.
 */
async function sendBytes (res: ServerResponse, contentType: string, content: AsyncGenerator<Uint8Array>): Promise<void> {
  // a client that goes away aborts the route's signal, and with it `content`
  const first = await content.next()
  res.writeHead(200, { 'content-type': contentType, trailer: 'x-shoal-error' })
  try {
    if (first.done !== true) {
      if (!res.write(first.value)) await drained(res)
      for await (const chunk of content) {
        // the client went away: nobody reads the rest (ending the loop ends the read, and its lease)
        if (res.destroyed) break
        if (!res.write(chunk)) await drained(res)
      }
    }
  } catch (err: any) {
    res.addTrailers({ 'x-shoal-error': JSON.stringify(errorBody(err).error) })
  }
  res.end()
}

/**
 * The control API, one handler per `METHOD /path`. Errors thrown here become
 * a JSON `{ error: { name, message } }` with a status from the error's name;
 * in NDJSON streams they become a final `{ type: "error" }` event.
 */
export const routes: Record<string, Route> = {
  'GET /v1/id': async ({ node, res }) => {
    sendJson(res, 200, { peerId: node.peerId.toString(), addresses: node.addresses(), reachability: node.libp2p.services.reachability.status() })
  },

  'POST /v1/add': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const input = absPath(body, 'path')
    const chunkSize = body.chunkSize == null ? undefined : checkChunkSize(body.chunkSize, 'chunk size')
    const out = ndjson(res)
    const progress = throttle<{ bytes: number, total: number }>(PROGRESS_INTERVAL, p => { void out.send({ type: 'progress', ...p }) })
    try {
      const result = await node.add(input, {
        recursive: body.recursive === true,
        followSymlinks: body.followSymlinks === true,
        copy: body.copy === true,
        pin: body.pin !== false,
        chunkSize,
        replicas: optInt(body, 'replicas'),
        replicasMax: optInt(body, 'replicasMax'),
        erasure: optErasure(body),
        signal,
        onProgress: (bytes, total) => { progress({ bytes, total }) }
      })
      progress.flush()
      await out.send({ type: 'result', cid: result.cid.toString(), name: result.name, size: result.size, kind: result.type, pinned: result.pinned, replication: result.replication, skipped: result.skipped })
    } catch (err: any) {
      await out.send({ type: 'error', error: { name: err.name, message: err.message } })
    }
    out.end()
  },

  'POST /v1/get': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const { cid, path } = parseContentPath(str(body, 'cid'))
    const output = absPath(body, 'output')
    const providerTimeout = optNumber(body, 'providerTimeout')
    const out = ndjson(res)
    const progress = throttle<object>(PROGRESS_INTERVAL, p => { void out.send({ type: 'progress', ...p }) })
    try {
      const result = await node.get(cid, output, {
        path,
        pin: body.pin !== false,
        force: body.force === true,
        providerTimeout,
        signal,
        onProgress: p => { progress(p) },
        onSearching: timeout => { void out.send({ type: 'phase', phase: 'searching', timeout }) },
        onWriting: target => {
          progress.flush()
          void out.send({ type: 'phase', phase: 'writing', output: target })
        }
      })
      progress.flush()
      await out.send({
        type: 'result',
        cid: result.root.toString(),
        ...(path.length > 0 ? { path: [cid.toString(), ...path].join('/') } : {}),
        output: result.output,
        kind: result.type,
        bytes: result.size,
        bytesFetched: result.bytesFetched,
        blocksFetched: result.blocksFetched,
        blocksAlreadyHeld: result.blocksAlreadyHeld,
        blocksShared: result.blocksShared,
        duplicateBlocks: result.duplicateBlocks,
        seconds: result.seconds,
        pinned: result.pinned,
        peers: result.peers.map(p => ({ peerId: p.peerId, bytes: p.bytes, blocks: p.blocks })),
        dropped: result.dropped
      })
    } catch (err: any) {
      await out.send({ type: 'error', error: { name: err.name, message: err.message } })
    }
    out.end()
  },

  'POST /v1/cat': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const { cid, path } = parseContentPath(str(body, 'cid'))
    await sendBytes(res, 'application/octet-stream', node.cat(cid, { path, signal, providerTimeout: optNumber(body, 'providerTimeout') }))
  },

  'POST /v1/export': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const { cid, path } = parseContentPath(str(body, 'cid'))
    await sendBytes(res, CAR_CONTENT_TYPE, node.exportCar(cid, { path, signal, providerTimeout: optNumber(body, 'providerTimeout') }))
  },

  'POST /v1/import': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const result = await node.importCar(absPath(body, 'path'), { pin: body.pin !== false, signal })
    sendJson(res, 200, {
      roots: result.roots.map(r => ({ cid: r.cid.toString(), name: r.name, size: r.size, kind: r.type })),
      blocks: result.blocks,
      bytes: result.bytes,
      pinned: result.pinned
    })
  },

  'GET /v1/ls': async ({ node, res }) => {
    const pins = await node.ls()
    sendJson(res, 200, {
      pins: pins.map(p => ({ cid: p.cid.toString(), name: p.name, size: p.size, kind: p.type, created: p.created, reasons: p.reasons, state: p.state })),
      // fragments of erasure-coded roots kept for the group: no pin (a pin means the whole root is here)
      fragments: node.replicaList().filter(r => r.erasure != null && r.self != null).map(r => ({
        cid: r.cid,
        size: r.size,
        erasure: `${r.erasure!.k}+${r.erasure!.m}`,
        fragment: r.holders.find(h => h.peer === node.peerId.toString())?.fragment,
        state: r.self,
        health: r.health
      })),
      downloads: await node.unfinished()
    })
  },

  'POST /v1/verify': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const cid = body.cid == null ? undefined : parseCID(str(body, 'cid'))
    sendJson(res, 200, { roots: await node.verify(cid, { signal }) })
  },

  'POST /v1/rm': async ({ node, req, res }) => {
    const body = await readJson(req)
    const cid = parseCID(str(body, 'cid'))
    const reasons = await node.rm(cid, { downloadsOnly: body.downloadsOnly === true })
    sendJson(res, 200, { removed: cid.toString(), reasons })
  },

  'POST /v1/gc': async ({ node, res, signal }) => {
    const result = await node.gc({ signal })
    sendJson(res, 200, result)
  },

  'GET /v1/peers': async ({ node, res }) => {
    sendJson(res, 200, { peers: node.peers() })
  },

  'POST /v1/connect': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const peerId = await node.connect(str(body, 'address'), { signal: AbortSignal.any([signal, AbortSignal.timeout(CONNECT_TIMEOUT)]) })
    sendJson(res, 200, { peerId })
  },

  'POST /v1/providers': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const cid = parseCID(str(body, 'cid'))
    const timeout = optNumber(body, 'timeout') ?? PROVIDERS_TIMEOUT
    sendJson(res, 200, { providers: await node.providers(cid, timeout, { signal }) })
  },

  'POST /v1/status': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const cid = parseCID(str(body, 'cid'))
    const { replication, ...here } = await node.status(cid, { signal })
    sendJson(res, 200, { ...here, replicated: replication != null, ...replication })
  },

  'POST /v1/replicate': async ({ node, req, res, signal }) => {
    const body = await readJson(req)
    const cid = parseCID(str(body, 'cid'))
    const replicas = optInt(body, 'replicas')
    const erasure = optErasure(body)
    if (replicas == null && erasure == null) throw new InputError('missing "replicas" (copies) or "erasure" (K+M fragments)')
    sendJson(res, 200, await node.replicate(cid, { replicas, replicasMax: optInt(body, 'replicasMax'), erasure, signal }))
  },

  'GET /v1/replicas': async ({ node, res }) => {
    sendJson(res, 200, { replicas: node.replicaList() })
  },

  'GET /v1/transfers': async ({ node, res }) => {
    sendJson(res, 200, node.activity())
  },

  'POST /v1/webui': async ({ res, loginLink }) => {
    const url = loginLink?.()
    if (url == null) throw new HttpError(404, 'this daemon serves no web page (its config has "webui": "")', 'NotFoundError')
    sendJson(res, 200, { url })
  },

  'POST /v1/webui/revoke': async ({ res, revokeSessions }) => {
    if (revokeSessions == null) throw new HttpError(404, 'sessions are revoked through the daemon\'s control API', 'NotFoundError')
    const { served } = await revokeSessions()
    sendJson(res, 200, { revoked: true, served })
  },

  'POST /v1/cancel': async ({ node, req, res }) => {
    const cid = parseCID(str(await readJson(req), 'cid'))
    sendJson(res, 200, { cancelled: node.cancel(cid) })
  },

  'GET /v1/stat': async ({ node, res }) => {
    sendJson(res, 200, await node.stat())
  },

  'POST /v1/stop': async ({ node, res, requestStop }) => {
    const out = ndjson(res)
    const onHandOver = (evt: CustomEvent): void => { void out.send({ type: 'handover', ...evt.detail }) }
    node.replicaEvents.addEventListener('handover', onHandOver)
    try {
      const result = await requestStop()
      await out.send({ type: 'result', stopping: true, ...result })
    } finally {
      node.replicaEvents.removeEventListener('handover', onHandOver)
    }
    out.end()
  }
}

export function routeFor (method: string | undefined, url: string | undefined): Route {
  const pathname = new URL(url ?? '/', 'http://shoal').pathname
  const route = routes[`${method ?? 'GET'} ${pathname}`]
  if (route == null) throw new HttpError(404, `no such endpoint: ${method} ${pathname}`)
  return route
}
