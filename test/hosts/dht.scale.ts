import { dhtSuite } from './dht-suite.js'

// `npm run test:scale` (root): a hundred daemons, a host each (SCALE_HOSTS and SCALE_PER_HOST change it)
dhtSuite({ hosts: Number(process.env.SCALE_HOSTS ?? 100), perHost: Number(process.env.SCALE_PER_HOST ?? 1), files: 20 })
