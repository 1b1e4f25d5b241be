import { dhtSuite } from './dht-suite.js'

// the quick version of the scale test, in `npm run test:hosts` (CI): thirty daemons, a host each
dhtSuite({ hosts: 30, files: 10 })
