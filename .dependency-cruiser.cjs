/**
 * The layers of src/, top to bottom: a module may import its own layer and
 * the layers below it, never one above. This list is the picture of the
 * design (ARCHITECTURE.md draws the same); `npm run layers` checks it.
 */
const LAYERS = [
  'cli', //          the shoal command: parses, prints, calls the daemon through the API client
  'churn', //        the churn harness: daemons as child processes, churn model, observer, report
  'lab', //          test hosts on one machine (network namespaces)
  'client', //       the control API's client (used by cli and churn)
  'daemon', //       the process: start/stop, signals, the operator log, the control API server
  'node', //         one peer: composition root and its operations (add, get, gc, pins…)
  'config', //       the user's settings: schema and defaults, validation, the file, and the map to each part's Init
  'replication', //  K copies: coordinator, handlers, prober, placement, hand-over…
  'routing', //      the DHT: discovery, announcer, bootstrap, provider quota
  'exchange', //     block exchange: sessions, swarms, the block server
  'protocol', //     the wire: streams and messages of /shoal/blocks, /shoal/swarm, /shoal/replica
  'store', //        the repo: blocks, pins, replica records, identity
  'content' //       CIDs, verification, the importer profile, DAG links
]

const forbidden = LAYERS.map((layer, i) => ({
  name: `${layer}-imports-no-higher-layer`,
  comment: `${layer}/ may import only ${LAYERS.slice(i + 1).join(', ') || 'nothing else in src'} and the shared modules at the top of src/`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(0, i).join('|') || '$^'})/` }
}))

module.exports = {
  forbidden: [
    ...forbidden,
    {
      name: 'shared-modules-import-no-layer',
      comment: 'the modules at the top of src/ (errors, signals, duration) are used by every layer and import none',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: `^src/(${LAYERS.join('|')})/` }
    },
    {
      name: 'api-routes-call-node-operations',
      comment: 'the control API calls the node\'s operations; it never reaches into the exchange, routing, replication or the wire',
      severity: 'error',
      from: { path: '^src/daemon/api-(routes|server)\\.ts$' },
      to: { path: '^src/(exchange|routing|replication|protocol)/' }
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    includeOnly: '^src/'
  }
}
