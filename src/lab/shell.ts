import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { ShoalError } from '../errors.js'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

export const run = promisify(execFile)

/** The lab cannot run here (not root, a tool missing) or a command inside it failed. */
export class LabError extends ShoalError {
  static override readonly name = 'LabError'
  override name = 'LabError'
}

/** Run a command and return its output; a failure is a LabError naming the command and what it said. */
export async function sh (cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args)).stdout
  } catch (err: any) {
    throw new LabError(`${cmd} ${args.join(' ')}: ${String(err.stderr ?? err.message).trim()}`)
  }
}

/**
 * What the lab does inside one network namespace, by the namespace's name:
 * the NAT routers use it without knowing the lab's hosts.
 */
export interface Namespaces {
  /** Run a command inside `ns` and wait for it. */
  exec: (ns: string, cmd: string, args: string[]) => Promise<string>
  /** Start a long-running process inside `ns`; the lab kills it when it is destroyed. */
  spawn: (ns: string, cmd: string, args: string[], options?: SpawnOptions) => ChildProcess
}

/** Apply an nftables script inside `ns` (`nft -f -`, the script on stdin). */
export async function nftIn (ns: string, script: string): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', d => { stderr += d })
  child.stdin!.end(script + '\n')
  const code = await new Promise(resolve => child.once('close', resolve))
  if (code !== 0) throw new LabError(`nft in ${ns}: ${stderr.trim()}`)
}
