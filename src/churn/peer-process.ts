import { spawn } from 'node:child_process'
import { DaemonStartError } from '../errors.js'
import { DaemonChild } from '../client/daemon-child.js'
import { raceSignal } from 'race-signal'
import { createWriteStream } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiClient } from '../client/api-client.js'
import type { Launcher } from '../client/daemon-child.js'
import type { ChildProcess } from 'node:child_process'
import type { WriteStream } from 'node:fs'

/** The `shoal` executable next to this build. */
const SHOAL_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/shoal.js')

const READY_TIMEOUT = 60_000

export type PeerState = 'up' | 'stopping' | 'down' | 'retired'

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
  /** Its metrics endpoint (`/metrics`), on a loopback peer. */
  metricsUrl?: string
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
    const args = ['--repo', this.repo, '--listen', `/ip4/${this.host}/tcp/${this.port}`]
    for (const b of bootstrap) args.push('--bootstrap', b)
    // a loopback peer serves its metrics, for the report's DHT figures (a lab host's are out of reach)
    if (this.host.startsWith('127.')) args.push('--metrics', `/ip4/${this.host}/tcp/0`)
    const daemon = new DaemonChild(args, { entry: SHOAL_BIN, launch: this.launch, onLog: chunk => { this.log?.write(chunk) } })
    this.child = daemon.child
    this.exited = daemon.exited.then(() => {})
    const timeout = AbortSignal.timeout(READY_TIMEOUT)
    const stop = signal == null ? timeout : AbortSignal.any([signal, timeout])
    let event
    try {
      event = await raceSignal(daemon.ready, stop)
    } catch (err: any) {
      await daemon.kill('SIGKILL')
      if (signal?.aborted === true) throw signal.reason
      throw new DaemonStartError(timeout.aborted
        ? `${this.name} was not ready within ${READY_TIMEOUT / 1000} s`
        : `${this.name} exited before it was ready (see ${this.logFile}): ${err.message}`)
    }
    this.peerId = event.peerId
    this.addresses = event.addresses
    this.metricsUrl = event.metricsUrl
    const port = event.addresses.map(a => /\/tcp\/(\d+)/.exec(a)?.[1]).find(p => p != null)
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
