import { spawn } from 'node:child_process'
import { DaemonStartError } from '../errors.js'
import { createWriteStream } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiClient } from '../client/api-client.js'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import type { WriteStream } from 'node:fs'

/** The `shoal` executable next to this build. */
const SHOAL_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/shoal.js')

const READY_TIMEOUT = 60_000

export type PeerState = 'up' | 'stopping' | 'down' | 'retired'

/** Starts the daemon process: directly, or inside a lab host's network namespace. */
export type Launcher = (cmd: string, args: string[], options: SpawnOptions) => ChildProcess

export interface PeerPlacement {
  /** Address to listen on (a loopback address, or 0.0.0.0 on a lab host). */
  host: string
  /** A fixed port (a lab host has its own port space); 0: from the OS, then kept. */
  port?: number
  launch?: Launcher
  /** The lab host index, when on one. */
  labHost?: number
}

/**
 * One `shoal daemon` child process of the churn harness: its own repo and
 * loopback address, started, killed (SIGKILL) or stopped gracefully
 * (SIGTERM: it hands its replicas over first) and started again on the same
 * repo and port, so it comes back with the same identity and address.
 */
export class PeerProcess {
  readonly name: string
  readonly repo: string
  readonly host: string
  readonly client: ApiClient
  readonly labHost?: number
  private readonly launch: Launcher
  port = 0
  peerId?: string
  addresses: string[] = []
  state: PeerState = 'down'
  /** When the current state began (ms since the epoch). */
  since = Date.now()
  private child?: ChildProcess
  private exited?: Promise<void>
  private log?: WriteStream

  constructor (name: string, repo: string, placement: PeerPlacement, private readonly logFile: string) {
    this.name = name
    this.repo = repo
    this.host = placement.host
    this.port = placement.port ?? 0
    this.labHost = placement.labHost
    this.launch = placement.launch ?? spawn
    this.client = new ApiClient(repo)
  }

  get isUp (): boolean {
    return this.state === 'up'
  }

  /** Running: up, or stopping gracefully (still serving while it hands its replicas over). */
  get isRunning (): boolean {
    return this.state === 'up' || this.state === 'stopping'
  }

  async start (bootstrap: string[], signal?: AbortSignal): Promise<void> {
    this.log ??= createWriteStream(this.logFile, { flags: 'a' })
    const args = [SHOAL_BIN, 'daemon', '--repo', this.repo, '--listen', `/ip4/${this.host}/tcp/${this.port}`]
    for (const b of bootstrap) args.push('--bootstrap', b)
    const child = this.launch(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    this.child = child
    this.exited = new Promise(resolve => { child.once('exit', () => { resolve() }) })
    const ready = Promise.withResolvers<void>()
    const addresses: string[] = []
    let buffer = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      this.log?.write(chunk)
      buffer += chunk.toString('utf8')
      let nl
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        const listening = /listening on (\S+)/.exec(line)
        if (listening != null) addresses.push(listening[1])
        const id = /peer id (\S+)/.exec(line)
        if (id != null) this.peerId = id[1]
        if (/ info +ready$/.test(line)) ready.resolve()
      }
    })
    void this.exited.then(() => { ready.reject(new DaemonStartError(`${this.name} exited before it was ready (see ${this.logFile})`)) })
    const timer = setTimeout(() => { ready.reject(new DaemonStartError(`${this.name} was not ready within ${READY_TIMEOUT / 1000} s`)) }, READY_TIMEOUT)
    const onAbort = (): void => { ready.reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await ready.promise
    } catch (err) {
      child.kill('SIGKILL')
      await this.exited
      throw err
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    this.addresses = addresses
    const port = addresses.map(a => /\/tcp\/(\d+)/.exec(a)?.[1]).find(p => p != null)
    if (port != null) this.port = Number(port)
    this.setState('up')
  }

  /** SIGKILL: gone at once, no hand-over, no goodbye. */
  async kill (): Promise<void> {
    // mark it first: requests through it fail as soon as the signal lands
    if (this.state === 'up') this.setState('stopping')
    this.child?.kill('SIGKILL')
    await this.exited
    this.setState('down')
  }

  /** SIGTERM and wait (the daemon hands its replicas over first); SIGKILL after `timeout` ms. */
  async stop (timeout: number): Promise<void> {
    if (this.child == null || this.child.exitCode != null || this.child.signalCode != null) {
      this.setState('down')
      return
    }
    this.setState('stopping')
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => { this.child?.kill('SIGKILL') }, timeout)
    await this.exited
    clearTimeout(timer)
    this.setState('down')
  }

  /** Kill at once, synchronously (on the harness' exit path). */
  killNow (): void {
    if (this.child != null && this.child.exitCode == null && this.child.signalCode == null) this.child.kill('SIGKILL')
  }

  setState (state: PeerState): void {
    this.state = state
    this.since = Date.now()
  }

  closeLog (): void {
    this.log?.end()
    this.log = undefined
  }
}
