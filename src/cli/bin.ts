// The process entry of the `shoal` command (bin/shoal runs this file).
import { main } from './index.js'

await main()
