import fs from 'node:fs/promises'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from '../errors.js'
import { ShoalNode } from '../node/shoal-node.js'
import { announceReady } from './ready.js'
import { Gateway } from './gateway.js'
import { WebUi } from './webui.js'
import { rotateWebSecret } from './webui-auth.js'
import { initRepo } from '../config/file.js'
import { ApiServer } from './api-server.js'
import { logNodeEvents } from './event-log.js'
import { explainListenFailure } from './listen-check.js'
import { API_TOKEN } from './api-guard.js'
import { openSecret } from './repo-secret.js'
import type { Log } from './log.js'
import type { ShoalNodeOptions } from '../node/shoal-node.js'
import type { HandOverResult } from '../replication/hand-over.js'
import type { ShoalConfig } from '../config/schema.js'
import type { ShoalMetrics } from './metrics.js'
import type { MetricsServer } from './metrics-server.js'
import type { Registry } from 'prom-client'

export interface DaemonOptions extends ShoalNodeOptions {
  repo: string
  /** The operator's log (stderr in the CLI). */
  log: Log
  /** Resolves when the daemon should stop; SIGINT/SIGTERM are always honoured. */
  stopSignal?: AbortSignal
  /** A file descriptor to write the ready event to (`ReadyEvent`, one JSON line), then close. */
  readyFd?: number
}

export interface RunningDaemon {
  node: ShoalNode
  /** Resolves once the daemon has stopped cleanly. */
  stopped: Promise<void>
  /** Stop (after the hand-over), resolving with how the hand-over went. */
  stop(): Promise<HandOverResult>
}

/**
 * Start a daemon on `repo` (created with defaults if missing): open the
 * repo, start the libp2p node and the exchange, then the control API. A
 * first start that fails leaves no repo behind. Stops cleanly on
 * SIGINT/SIGTERM or an API stop request: replicas are handed over first (a
 * second signal skips that), then the API closes, then the node, then the
 * repo (store and datastore).
 */
export async function startDaemon (options: DaemonOptions): Promise<RunningDaemon> {
  const { log } = options
  const defaults: Partial<ShoalConfig> = options.config ?? {}
  const undo = await createdBy(options.repo, async () => await initRepo(options.repo))
  if (undo != null) log.info('initialised a new repo', { repo: options.repo })
  let node: ShoalNode
  let api: ApiServer
  let gateway: Gateway | undefined
  let webui: WebUi | undefined
  let metrics: { collector: ShoalMetrics, server: MetricsServer } | undefined
  let serving = false
  const stopped = Promise.withResolvers<void>()
  let stopping: Promise<HandOverResult> | undefined
  /** Resolves once the hand-over is done, before the API closes (the stop request is answered with it). */
  const handedOver = Promise.withResolvers<HandOverResult>()
  // a second signal skips the hand-over of replicas
  const force = new AbortController()
  const onSignal = (sig: string): void => {
    if (stopping != null) {
      log.warn(`received ${sig} again: stopping without waiting for the hand-over`)
      force.abort()
      return
    }
    log.info(`received ${sig}, stopping`)
    void stop()
  }
  /** A client (the API, the web page) asks the daemon to stop: answered once the hand-over is done. */
  const requestStop = async (): Promise<HandOverResult> => {
    void stop()
    return await handedOver.promise
  }
  const onInt = (): void => { onSignal('SIGINT') }
  const onTerm = (): void => { onSignal('SIGTERM') }

  async function stop (): Promise<HandOverResult> {
    stopping ??= (async () => {
      let result: HandOverResult = { handedOver: 0, unfinished: 0, short: [] }
      try {
        serving = false
        result = await node.leave({ signal: force.signal })
        metrics?.collector.handedOver(result)
        if (result.handedOver + result.unfinished > 0) {
          log.info(`handed over ${result.handedOver} replica(s)`, { short: result.unfinished })
        }
        for (const s of result.short) log.warn('still short of copies without this peer', { root: s.root, copies: s.copies, wanted: s.wanted, reason: s.reason })
      } catch (err: any) {
        log.error('hand-over failed', { error: err.message })
      }
      handedOver.resolve(result)
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      try {
        await api.stop().catch(() => {})
        await gateway?.stop().catch(() => {})
        await webui?.stop().catch(() => {})
        metrics?.collector.stop()
        await metrics?.server.stop().catch(() => {})
        await node.stop()
        log.info('stopped')
        stopped.resolve()
      } catch (err) {
        stopped.reject(err)
      }
      return result
    })()
    return await stopping
  }

  try {
    node = await ShoalNode.open(options.repo, { ...options, config: defaults })
  } catch (err) {
    await undo?.()
    throw err
  }
  try {
    api = new ApiServer({
      node,
      logger: node.logger,
      socketPath: node.repo.paths.apiSocket,
      requestStop,
      loginLink: () => webui?.loginLink(),
      revokeSessions: async () => {
        // with no page served the secret is replaced all the same: a page served later accepts no old session
        if (webui != null) await webui.revokeSessions()
        else await rotateWebSecret(node.repo.paths.webSecret)
        log.info('revoked every web page session and unused sign-in link (a new webui.secret)')
        return { served: webui != null }
      },
      tcp: node.config.api === '' ? undefined : { ...tcpAddress(node.config.api, node.config.apiAllowRemote, 'api'), token: await apiToken(node.repo.paths.apiToken, log) }
    })
    logBootstrap(node, log)
    await node.start().catch(async err => { throw await explainListenFailure(err, node.config.listen) })
    await api.start()
    if (node.config.gateway !== '') {
      gateway = new Gateway({ node, logger: node.logger, fetch: node.config.gatewayFetch, ...tcpAddress(node.config.gateway, node.config.gatewayAllowRemote, 'gateway') })
      await gateway.start()
    }
    if (node.config.webui !== '') {
      webui = new WebUi({
        node,
        logger: node.logger,
        log,
        requestStop,
        ...tcpAddress(node.config.webui, node.config.webuiAllowRemote, 'webui')
      })
      await webui.start()
    }
    if (node.metricsRegistry != null) metrics = await startMetrics(node, node.metricsRegistry, () => serving)
  } catch (err) {
    await metrics?.server.stop().catch(() => {})
    await webui?.stop().catch(() => {})
    await gateway?.stop().catch(() => {})
    await api!?.stop().catch(() => {})
    await node.stop().catch(() => {})
    if (undo != null) {
      await undo()
      log.info('removed the repo this failed first start created', { repo: options.repo })
    }
    throw err
  }
  const unlog = logNodeEvents(node, log)
  void stopped.promise.then(unlog, unlog)
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  options.stopSignal?.addEventListener('abort', () => { void stop() }, { once: true })

  log.info(`peer id ${node.peerId.toString()}`)
  for (const addr of node.addresses()) log.info(`listening on ${addr}`)
  log.info(`api on ${node.repo.paths.apiSocket}`)
  if (api.url != null) log.info(`api on ${api.url}`, { token: node.repo.paths.apiToken })
  if (gateway?.url != null) log.info(`trustless gateway on ${gateway.url}/ipfs/`, { fetch: node.config.gatewayFetch })
  if (webui?.url != null) log.info(`web page on ${webui.url} (run \`shoal webui\` to sign a browser in)`)
  if (metrics?.server.url != null) log.info(`metrics on ${metrics.server.url}/metrics`, { health: `${metrics.server.url}/healthz` })
  if (node.config.bitswap) log.info('speaking Bitswap to IPFS peers', { ipfsDht: node.config.ipfsDht })
  if (!node.replicas.inGroup) log.info('in no replication group: this peer keeps replicas for nobody (see --group-key)')
  serving = true
  log.info('ready')
  if (options.readyFd != null) {
    const err = announceReady(options.readyFd, { peerId: node.peerId.toString(), addresses: node.addresses(), api: node.repo.paths.apiSocket, apiUrl: api.url, gatewayUrl: gateway?.url, metricsUrl: metrics?.server.url, webuiUrl: webui?.url })
    if (err != null) log.warn(`cannot write the ready event to file descriptor ${options.readyFd}`, { error: err.message })
  }
  return { node, stopped: stopped.promise, stop }
}

/** Shoal's metrics on the registry libp2p's already go to, served with `/healthz` (loaded only when asked for). */
async function startMetrics (node: ShoalNode, registry: Registry, serving: () => boolean): Promise<{ collector: ShoalMetrics, server: MetricsServer }> {
  const [{ ShoalMetrics }, { MetricsServer }] = await Promise.all([import('./metrics.js'), import('./metrics-server.js')])
  const collector = new ShoalMetrics(node, registry)
  const server = new MetricsServer({
    registry,
    logger: node.logger,
    health: () => ({ ok: serving(), peers: node.libp2p.getPeers().length }),
    ...tcpAddress(node.config.metrics, node.config.metricsAllowRemote, 'metrics')
  })
  try {
    await server.start()
  } catch (err) {
    collector.stop()
    throw err
  }
  return { collector, server }
}

/** Log how each bootstrap peer answered, and warn while none could be reached. */
function logBootstrap (node: ShoalNode, log: Log): void {
  const b = node.bootstrapper
  b.addEventListener('connected', evt => { log.info('connected to bootstrap peer', { peer: evt.detail.peer }) })
  b.addEventListener('failed', evt => { log.warn('cannot reach bootstrap peer', { address: evt.detail.address, error: evt.detail.error }) })
  b.addEventListener('alone', evt => {
    log.warn(`no bootstrap peer could be reached (tried ${evt.detail.tried}); this peer is alone until one answers or another peer connects`, { retryIn: `${Math.round(evt.detail.retryIn / 1000)}s` })
  })
}

/**
 * Run `create`, which may create the repo at `root`; if it did, resolve
 * with a function that removes what it created again (the folder, if it was
 * not there before, or only the entries it added), else undefined.
 */
async function createdBy (root: string, create: () => Promise<boolean>): Promise<(() => Promise<void>) | undefined> {
  const existed = await fs.stat(root).then(() => true, () => false)
  const before = new Set(existed ? await fs.readdir(root) : [])
  if (!(await create())) return undefined
  return async () => {
    if (!existed) {
      await fs.rm(root, { recursive: true, force: true })
      return
    }
    for (const entry of await fs.readdir(root)) {
      if (!before.has(entry)) await fs.rm(path.join(root, entry), { recursive: true, force: true })
    }
  }
}

/** Host and port of the TCP API or the gateway; loopback only unless remote access was asked for. */
function tcpAddress (address: string, allowRemote: boolean, what: 'api' | 'gateway' | 'metrics' | 'webui'): { host: string, port: number } {
  const components = multiaddr(address).getComponents()
  const ip = components.find(c => c.name === 'ip4' || c.name === 'ip6')?.value
  const port = components.find(c => c.name === 'tcp')?.value
  if (ip == null || port == null) throw new ConfigError(`${what}: expected /ip4/<address>/tcp/<port> or /ip6/…, got ${address}`)
  const loopback = ip === '::1' || ip.startsWith('127.')
  if (!loopback && !allowRemote) {
    const name = { api: 'the control API', gateway: 'the gateway', metrics: 'the metrics endpoint', webui: 'the web page' }[what]
    throw new ConfigError(`${what}: ${ip} is not a loopback address; ${name} binds loopback only unless --${what}-allow-remote is given`)
  }
  return { host: ip, port: Number(port) }
}

/**
 * The TCP API's token: made once (32 random bytes, hex), kept in the repo
 * with mode 0600; one too weak to use is replaced, and the log says so.
 */
async function apiToken (file: string, log: Log): Promise<string> {
  const token = await openSecret(file, API_TOKEN)
  if (token.replaced != null) log.warn(`replaced ${file} with a fresh random token: ${token.replaced}; clients of the TCP API must read the new one`)
  return token.value
}
