/**
 * Node's `http` module, loaded with `require`. An ESM `import` of `node:http`
 * makes Node build the module's named exports, and reading its lazy
 * `WebSocket`, `CloseEvent` and `MessageEvent` loads the whole of undici (with
 * tls, http2 and zlib): 13 MB more RSS in every process that touches HTTP, the
 * daemon and each CLI command alike (46 vs 59 MB for a process that loads
 * nothing else). Shoal's HTTP is plain HTTP/1.1 on a socket; it needs none of it.
 */
import { createRequire } from 'node:module'
import type * as Http from 'node:http'

export const http: typeof Http = createRequire(import.meta.url)('node:http')
