import path from 'node:path'
import { InterruptedError } from '../errors.js'
import { defaultRepoPath } from '../store/repo-layout.js'
import { ApiClient } from '../client/api-client.js'

/** Options every command takes. */
export interface GlobalArgs {
  repo?: string
  json?: boolean
}

export function repoOf (args: GlobalArgs): string {
  return path.resolve(args.repo ?? defaultRepoPath())
}

export function clientOf (args: GlobalArgs): ApiClient {
  return new ApiClient(repoOf(args))
}

/** An AbortSignal that fires on Ctrl-C, so the daemon cancels the operation. */
export function interruptSignal (): AbortSignal {
  const controller = new AbortController()
  process.once('SIGINT', () => {
    controller.abort(new InterruptedError('interrupted'))
  })
  return controller.signal
}
