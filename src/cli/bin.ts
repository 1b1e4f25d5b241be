// The process entry of the `shoal` command (bin/shoal runs this file).
import module from 'node:module'

// V8's compiled code kept on disk (Node's own cache, in the OS temp folder): a command
// starts in about half the time, which a short `get` or `ls` notices
module.enableCompileCache?.()
const { main } = await import('./index.js')
await main()
