#!/usr/bin/env node
// `node bin/shoal.js …` under Node >= 22 (the tests run it so). The `shoal`
// command itself is bin/shoal, which picks the Node the project pins and
// runs the CLI in its own process.
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  process.stderr.write(`shoal: needs Node.js 22 or newer (this is ${process.version}); run bin/shoal, which uses the runtime the project pins\n`)
  process.exit(1)
}
await import('../dist/src/cli/bin.js')
