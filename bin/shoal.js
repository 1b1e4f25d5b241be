#!/usr/bin/env node
// Entry point of the `shoal` command. libp2p needs Node >= 22; when started by
// an older node (e.g. a system Node 20), re-run under the Node binary the
// project pins as a dependency (the npm package `node`).
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const major = Number(process.versions.node.split('.')[0])

if (major >= 22) {
  const { main } = await import('../dist/src/cli/index.js')
  await main()
} else {
  let nodeBin
  try {
    const require = createRequire(import.meta.url)
    nodeBin = path.join(path.dirname(require.resolve('node/package.json')), 'bin', 'node')
  } catch {
    process.stderr.write(`shoal: needs Node.js 22 or newer (this is ${process.version}); run "npm ci" to install the pinned runtime\n`)
    process.exit(1)
  }
  const child = spawn(nodeBin, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => { child.kill(sig) })
  }
  child.on('exit', (code, signal) => {
    process.exit(signal != null ? 128 + (os.constants.signals[signal] ?? 0) : (code ?? 1))
  })
}
