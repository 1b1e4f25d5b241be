import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DaemonChild } from '../../src/client/daemon-child.js'
import type { Launcher } from '../../src/client/daemon-child.js'
import type { ChildProcess } from 'node:child_process'

export type { Launcher }

/** The project's `shoal` entry point. */
export const SHOAL_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/shoal.js')

export interface ShoalOptions {
  timeout?: number
  env?: Record<string, string>
  cwd?: string
  /** Interrupt the command (SIGINT, as Ctrl-C does) when this aborts. */
  interrupt?: AbortSignal
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run `shoal ARGS` to completion under the same Node as the tests. */
export async function shoal (args: string[], options: ShoalOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [SHOAL_BIN, ...args], {
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeout ?? 120_000)
  const interrupt = (): void => { child.kill('SIGINT') }
  options.interrupt?.addEventListener('abort', interrupt, { once: true })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  clearTimeout(timer)
  options.interrupt?.removeEventListener('abort', interrupt)
  return { code, stdout, stderr }
}

/**
 * Run `shoal ARGS` and call `onLine` with each stdout line as it arrives (for
 * NDJSON progress); resolves with the whole result.
 */
export async function shoalStreaming (args: string[], onLine: (line: string) => void, options: { timeout?: number } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [SHOAL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let buffer = ''
  child.stdout.on('data', d => {
    stdout += d
    buffer += d
    let nl
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      onLine(line)
    }
  })
  child.stderr.on('data', d => { stderr += d })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeout ?? 120_000)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

/** The last NDJSON line of a `--json` get: its summary. */
export function summaryOf (result: CliResult): any {
  return JSON.parse(result.stdout.trim().split('\n').pop()!)
}

/** `shoal status CID --json` through `repo` until `check` holds (across processes there is no event to wait on). */
export async function statusUntil (repo: string, cid: string, check: (s: any) => boolean, timeout = 30_000): Promise<any> {
  const deadline = Date.now() + timeout
  let last: any
  while (Date.now() < deadline) {
    const r = await shoal(['status', cid, '--json', '--repo', repo])
    if (r.code === 0) {
      last = JSON.parse(r.stdout)
      if (check(last)) return last
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`status of ${cid} never matched; last: ${JSON.stringify(last)}`)
}

/** Like `shoal`, but fails the test unless the exit code is 0. */
export async function shoalOk (args: string[], options?: ShoalOptions): Promise<CliResult> {
  const r = await shoal(args, options)
  if (r.code !== 0) {
    throw new Error(`shoal ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  }
  return r
}

export { sha256File } from '../../src/content/file-hash.js'

/** `shoal ARGS --json`, parsed; fails the test unless the exit code is 0. */
export async function shoalJson (args: string[]): Promise<any> {
  return JSON.parse((await shoalOk([...args, '--json'])).stdout)
}

/** Wait until `check` holds, looking every 50 ms (a condition on another process, which sends no event). */
export async function until (check: () => Promise<boolean>, what: string, timeout = 60_000): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** What `probe` gives once it gives something (not undefined), looking every 500 ms (another process's state sends no event). */
export async function untilValue<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

/** Every path under `root`, sorted, folders with a trailing `/`. */
export async function files (root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name)
    if (e.isDirectory()) out.push(r + '/', ...await files(root, r))
    else out.push(r)
  }
  return out.sort()
}

export async function tempDir (prefix = 'shoal-test-'): Promise<string> {
  return await fs.mkdtemp(path.join(os.tmpdir(), prefix))
}

let nextHost = 10

/** A distinct loopback address per local peer, so libp2p's per-host inbound limits never trip. */
export function loopbackHost (): string {
  nextHost = nextHost >= 250 ? 10 : nextHost + 1
  return `127.0.0.${nextHost}`
}

/**
 * A `shoal daemon` child process (see `DaemonChild`). `ready` resolves when
 * it sent its ready event, with the full multiaddrs it listens on.
 */
export class DaemonProcess {
  readonly repo: string
  readonly child: ChildProcess
  readonly addresses: string[] = []
  peerId = ''
  /** The control API's socket, as its ready event names it. */
  api = ''
  /** `http://host:port` of its metrics endpoint, with `--metrics`. */
  metricsUrl = ''
  log = ''
  readonly ready: Promise<void>
  readonly exited: Promise<number | null>

  /**
   * `launch` starts the process (by default directly; the host lab starts it
   * inside a network namespace).
   */
  constructor (repo: string, args: string[] = [], env: Record<string, string> = {}, entry = SHOAL_BIN, launch: Launcher = spawn) {
    this.repo = repo
    const daemon = new DaemonChild(['--repo', repo, ...args], {
      entry,
      env: { ...process.env, ...env },
      launch,
      onLog: chunk => { this.log += chunk.toString() }
    })
    this.child = daemon.child
    this.exited = daemon.exited
    this.ready = daemon.ready.then(event => {
      this.peerId = event.peerId
      this.api = event.api
      this.metricsUrl = event.metricsUrl ?? ''
      this.addresses.push(...event.addresses)
    }, err => {
      throw new Error(`${err.message}:\n${this.log}`)
    })
  }

  /** Start a daemon listening on its own loopback address and a port from the OS. */
  static async start (repo: string, args: string[] = [], env: Record<string, string> = {}, entry = SHOAL_BIN): Promise<DaemonProcess> {
    const d = new DaemonProcess(repo, ['--listen', `/ip4/${loopbackHost()}/tcp/0`, ...args], env, entry)
    // a daemon that never got ready is nobody's to clean up but ours
    await d.ready.catch(async err => { await d.kill(); throw err })
    return d
  }

  /** Start a daemon that corrupts every leaf it serves (`corrupt-peer.ts`). */
  static async startCorrupt (repo: string, args: string[] = [], env: Record<string, string> = {}): Promise<DaemonProcess> {
    return await DaemonProcess.start(repo, args, env, path.join(path.dirname(fileURLToPath(import.meta.url)), 'corrupt-peer.js'))
  }

  /** Start a daemon that announces what it holds but never sends a leaf. */
  static async startStalling (repo: string, args: string[] = []): Promise<DaemonProcess> {
    return await DaemonProcess.startCorrupt(repo, args, { SHOAL_TEST_STALL: '1' })
  }

  /** Resolves with the first line of the daemon's log matching `pattern`, as soon as it is written. */
  async logged (pattern: RegExp, timeout = 30_000): Promise<string> {
    const started = Date.now()
    while (Date.now() - started < timeout) {
      const line = this.log.split('\n').find(l => pattern.test(l))
      if (line != null) return line
      await new Promise(resolve => {
        const timer = setTimeout(resolve, timeout - (Date.now() - started))
        this.child.stderr!.once('data', () => { clearTimeout(timer); resolve(undefined) })
      })
    }
    throw new Error(`no log line matching ${pattern} within ${timeout} ms:\n${this.log}`)
  }

  async kill (signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.child.exitCode == null && this.child.signalCode == null) {
      this.child.kill(signal)
    }
    return await this.exited
  }
}

export interface DaemonScope {
  /** The scope's temporary folder (set once its `before` hook ran). */
  readonly dir: string
  repo(name: string): string
  /** Kill this daemon when the scope ends. */
  track(d: DaemonProcess): DaemonProcess
  /** Start a daemon with a repo named `name` in the scope's folder. */
  start(name: string, args?: string[]): Promise<DaemonProcess>
}

/**
 * For a mocha suite: a temporary folder and the daemons started in it, all
 * killed (SIGKILL) and removed when the suite ends, or after each test with
 * `perTest`. Call at the top of a `describe`.
 */
export function useDaemons (options: { perTest?: boolean } = {}): DaemonScope {
  let dir = ''
  const daemons: DaemonProcess[] = []
  const setup = async (): Promise<void> => { dir = await tempDir() }
  const teardown = async (): Promise<void> => {
    await Promise.all(daemons.splice(0).map(async d => await d.kill('SIGKILL')))
    await fs.rm(dir, { recursive: true, force: true })
  }
  if (options.perTest === true) {
    beforeEach(setup)
    afterEach(teardown)
  } else {
    before(setup)
    after(teardown)
  }
  const scope: DaemonScope = {
    get dir () { return dir },
    repo: name => path.join(dir, name),
    track: d => { daemons.push(d); return d },
    start: async (name, args = []) => scope.track(await DaemonProcess.start(path.join(dir, name), args))
  }
  return scope
}
