import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { ConfigError } from '../errors.js'
import { ShoalNode } from '../node/shoal-node.js'
import { initRepo } from '../store/repo.js'
import { ApiServer } from './api-server.js'
import type { ShoalNodeOptions } from '../node/shoal-node.js'
import type { ShoalConfig } from '../store/config.js'

export interface DaemonOptions extends ShoalNodeOptions {
  repo: string
  /** Where to report what the daemon is doing (stderr in the CLI). */
  report(line: string): void
  /** Resolves when the daemon should stop; SIGINT/SIGTERM are always honoured. */
  stopSignal?: AbortSignal
}

export interface RunningDaemon {
  node: ShoalNode
  /** Resolves once the daemon has stopped cleanly. */
  stopped: Promise<void>
  stop(): Promise<void>
}

/**
 * Start a daemon on `repo` (created with defaults if missing): open the
 * repo, start the libp2p node and the exchange, then the control API.
 * Stops cleanly on SIGINT/SIGTERM or an API stop request: replicas are
 * handed over first (a second signal skips that), then the API closes, then
 * the node, then the repo (store and datastore).
 */
export async function startDaemon (options: DaemonOptions): Promise<RunningDaemon> {
  const defaults: Partial<ShoalConfig> = options.config ?? {}
  if (await initRepo(options.repo)) {
    options.report(`initialised a new repo at ${options.repo}`)
  }
  const node = await ShoalNode.open(options.repo, { ...options, config: defaults })
  const stopped = Promise.withResolvers<void>()
  let stopping: Promise<void> | undefined
  let api: ApiServer
  try {
    api = new ApiServer({
      node,
      socketPath: node.repo.paths.apiSocket,
      onStopRequested: () => { void stop() },
      tcp: node.repo.config.api === '' ? undefined : { ...tcpAddress(node.repo.config.api, node.repo.config.apiAllowRemote), token: await apiToken(node.repo.paths.apiToken) }
    })
  } catch (err) {
    await node.stop()
    throw err
  }

  // a second signal skips the hand-over of replicas
  const force = new AbortController()
  const onSignal = (sig: string): void => {
    if (stopping != null) {
      options.report(`received ${sig} again, stopping without waiting for the hand-over`)
      force.abort()
      return
    }
    options.report(`received ${sig}, stopping`)
    void stop()
  }
  const onInt = (): void => { onSignal('SIGINT') }
  const onTerm = (): void => { onSignal('SIGTERM') }

  async function stop (): Promise<void> {
    stopping ??= (async () => {
      try {
        const { handedOver, unfinished } = await node.leave({ signal: force.signal })
        if (handedOver + unfinished > 0) {
          options.report(`handed over ${handedOver} replica(s)${unfinished > 0 ? `; ${unfinished} still short of copies` : ''}`)
        }
      } catch (err: any) {
        options.report(`hand-over failed: ${err.message}`)
      }
      process.off('SIGINT', onInt)
      process.off('SIGTERM', onTerm)
      try {
        await api.stop().catch(() => {})
        await node.stop()
        options.report('stopped')
        stopped.resolve()
      } catch (err) {
        stopped.reject(err)
      }
    })()
    await stopping
  }

  try {
    await node.start()
    await api.start()
  } catch (err) {
    await api.stop().catch(() => {})
    await node.stop().catch(() => {})
    throw err
  }
  process.on('SIGINT', onInt)
  process.on('SIGTERM', onTerm)
  options.stopSignal?.addEventListener('abort', () => { void stop() }, { once: true })

  options.report(`peer id ${node.peerId.toString()}`)
  for (const addr of node.addresses()) {
    options.report(`listening on ${addr}`)
  }
  options.report(`api on ${node.repo.paths.apiSocket}`)
  if (api.url != null) options.report(`api on ${api.url} (token in ${node.repo.paths.apiToken})`)
  options.report('ready')
  return { node, stopped: stopped.promise, stop }
}

/** Host and port of the TCP API; loopback only unless remote access was asked for. */
function tcpAddress (address: string, allowRemote: boolean): { host: string, port: number } {
  const components = multiaddr(address).getComponents()
  const ip = components.find(c => c.name === 'ip4' || c.name === 'ip6')?.value
  const port = components.find(c => c.name === 'tcp')?.value
  if (ip == null || port == null) throw new ConfigError(`api: expected /ip4/<address>/tcp/<port> or /ip6/…, got ${address}`)
  const loopback = ip === '::1' || ip.startsWith('127.')
  if (!loopback && !allowRemote) {
    throw new ConfigError(`api: ${ip} is not a loopback address; the control API binds loopback only unless --api-allow-remote is given`)
  }
  return { host: ip, port: Number(port) }
}

/** The TCP API's token: made once (32 random bytes, hex), kept in the repo with mode 0600. */
async function apiToken (file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim()
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
  }
  const token = randomBytes(32).toString('hex')
  await fs.writeFile(file, token + '\n', { mode: 0o600, flag: 'wx' })
  return token
}
