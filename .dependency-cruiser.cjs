/**
 * Import rules of the homeserver (docs/architecture.md, "Layout and import rules").
 * `npm run lint` fails when any of them is broken.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'protocol-is-pure',
      comment: 'libs/protocol imports nothing of ours: no other lib, app or projection.',
      severity: 'error',
      from: { path: '^libs/protocol/' },
      to: { path: '^(apps|projections|libs/(?!protocol/))' },
    },
    {
      name: 'protocol-no-frameworks-or-io',
      comment: 'libs/protocol is pure: no Nest, no database, no HTTP, no file system.',
      severity: 'error',
      from: { path: '^libs/protocol/src/', pathNot: '\\.spec\\.ts$' },
      to: {
        dependencyTypes: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'],
        pathNot: '^(crypto|node:crypto)$|node_modules/(tweetnacl|fast-check)/',
      },
    },
    {
      name: 'contracts-only-protocol',
      comment: 'libs/contracts is shared vocabulary: it may import libs/protocol only.',
      severity: 'error',
      from: { path: '^libs/contracts/' },
      to: { path: '^(apps|projections|libs/(?!(contracts|protocol)/))' },
    },
    {
      name: 'bus-stands-alone',
      comment: 'libs/bus is a port and its adapters: it imports nothing of ours.',
      severity: 'error',
      from: { path: '^libs/bus/' },
      to: { path: '^(apps|projections|libs/(?!bus/))' },
    },
    {
      name: 'kafka-only-in-the-bus',
      comment: 'Kafka is reached through the bus port (libs/bus); test helpers that run a broker may use kafkajs too.',
      severity: 'error',
      from: { path: '^(apps|libs|projections)/', pathNot: '^libs/bus/' },
      to: { path: 'node_modules/kafkajs/' },
    },
    {
      name: 'eventstoredb-only-in-its-adapter',
      comment: 'EventStoreDB is reached through the event store port: only its adapter imports @eventstore/db-client (lazily, so no other process loads gRPC).',
      severity: 'error',
      from: { path: '^(apps|libs|projections)/', pathNot: '^libs/eventstore/src/eventstoredb-event-store\\.ts$' },
      to: { path: 'node_modules/@eventstore/db-client/' },
    },
    {
      name: 'http-never-touches-sql-or-store',
      comment: 'HTTP layers send commands and queries; they never touch SQL or the event store.',
      severity: 'error',
      from: { path: '^libs/(client-api|federation-api|http)/' },
      to: { path: '^libs/(persistence|eventstore)/|node_modules/(pg|slonik|@electric-sql|@slonik|pg-[a-z-]+)/' },
    },
    {
      name: 'federation-sender-no-http-or-read-side',
      comment: 'The outbound federation sender reads the event store and the room write model; it never imports the HTTP layers, the /sync side or projections.',
      severity: 'error',
      from: { path: '^libs/federation-sender/' },
      to: { path: '^(projections/|libs/(client-api|federation-api|http|sync)/)' },
    },
    {
      name: 'appservice-no-http-or-read-side',
      comment: 'Application services read the event store and the room write model; they never import the HTTP layers, the /sync side or projections.',
      severity: 'error',
      from: { path: '^libs/appservice/' },
      to: { path: '^(projections/|libs/(client-api|federation-api|http|sync)/)' },
    },
    {
      name: 'projections-not-write-side',
      comment: 'Projections never import the write side.',
      severity: 'error',
      from: { path: '^projections/' },
      to: { path: '^libs/room/' },
    },
    {
      name: 'projections-not-each-other',
      comment: 'A projection never imports another projection.',
      severity: 'error',
      from: { path: '^projections/([^/]+)/' },
      to: { path: '^projections/', pathNot: '^projections/$1/' },
    },
    {
      name: 'libs-not-apps',
      comment: 'Libraries never import applications; apps are composition only.',
      severity: 'error',
      from: { path: '^(libs|projections)/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Build output only. npm packages stay visible as dependencies (doNotFollow: not cruised
    // into) so that the rules about them (kafkajs, @eventstore/db-client, protocol) can fire.
    exclude: { path: '^dist/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
