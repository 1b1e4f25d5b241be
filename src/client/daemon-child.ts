import { spawn } from 'node:child_process'
import { DAEMON_NODE_FLAGS } from '../daemon/constants.js'
import { DaemonStartError } from '../errors.js'
import type { ReadyEvent } from '../daemon/ready.js'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import type { Readable } from 'node:stream'

/** Starts a process (by default directly; the host lab starts daemons inside a network namespace). */
export type Launcher = (cmd: string, args: string[], options: SpawnOptions) => ChildProcess

export interface DaemonChildOptions {
  /** The script `shoal` runs (tests start variants of the daemon). */
  entry: string
  env?: NodeJS.ProcessEnv
  launch?: Launcher
  /** Each chunk of the daemon's log (its stderr) as it is written. */
  onLog?(chunk: Buffer): void
  /** How long to wait for the ready event (ms; default READY_TIMEOUT). */
  readyTimeout?: number
}

/** The file descriptor the child writes its ready event to. */
const READY_FD = 3
/** A daemon not ready within this long is reported (it is not killed: that is the caller's choice). */
const READY_TIMEOUT = 60_000

/**
 * A `shoal daemon` child process, started with `--ready-fd`: `ready`
 * resolves with its ready event (peer id, addresses, API) as soon as it
 * serves, and rejects if it exits first. Used by the churn harness and the
 * tests; nothing parses log lines to learn that a daemon is up.
 */
export class DaemonChild {
  readonly child: ChildProcess
  readonly ready: Promise<ReadyEvent>
  /** The exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>

  constructor (args: string[], options: DaemonChildOptions) {
    const launch = options.launch ?? spawn
    this.child = launch(process.execPath, [...DAEMON_NODE_FLAGS, options.entry, 'daemon', '--ready-fd', String(READY_FD), ...args], {
      env: options.env ?? process.env,
      stdio: ['ignore', 'ignore', 'pipe', 'pipe']
    })
    this.exited = new Promise(resolve => { this.child.once('exit', code => { resolve(code) }) })
    this.child.stderr?.on('data', (chunk: Buffer) => { options.onLog?.(chunk) })
    this.ready = readReady(this.child.stdio[READY_FD] as Readable | null, this.exited, options.readyTimeout ?? READY_TIMEOUT)
    // a caller that gives up on `ready` (it kills the child) must not leave an unhandled rejection
    this.ready.catch(() => {})
  }

  /** Whether it has exited. */
  private get hasExited (): boolean {
    return this.child.exitCode != null || this.child.signalCode != null
  }

  /** Send `signal` (unless it has exited) and wait for the exit. */
  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (!this.hasExited) this.child.kill(signal)
    return await this.exited
  }
}

async function readReady (pipe: Readable | null, exited: Promise<number | null>, timeout: number): Promise<ReadyEvent> {
  if (pipe == null) throw new DaemonStartError('the daemon has no ready pipe')
  let text = ''
  let timer: ReturnType<typeof setTimeout> | undefined
  const line = new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => { reject(new DaemonStartError(`the daemon sent no ready event within ${timeout / 1000} s`)) }, timeout)
    pipe.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      const nl = text.indexOf('\n')
      if (nl >= 0) resolve(text.slice(0, nl))
    })
    pipe.on('error', reject)
    void exited.then(code => { reject(new DaemonStartError(`the daemon exited (${String(code)}) before it was ready`)) })
  })
  const first = await line.finally(() => { clearTimeout(timer) })
  let event: ReadyEvent
  try {
    event = JSON.parse(first)
  } catch {
    throw new DaemonStartError(`the daemon's ready event is not JSON: ${first}`)
  }
  if (event?.event !== 'ready' || typeof event.peerId !== 'string' || !Array.isArray(event.addresses)) {
    throw new DaemonStartError(`the daemon's ready event is malformed: ${text.trim()}`)
  }
  return event
}
