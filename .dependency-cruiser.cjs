// The import rule of Hubbub (docs/architecture.md), checked by `npm test`:
//   protocol  -> nothing of ours (the wire contract: ops, events, limits, codes)
//   actors    -> protocol, the backplane's interface (backplane/backplane.ts), constants
//   backplane -> protocol, constants, log
//   transport -> actors, protocol, backplane, constants, log
//   debug     -> actors, protocol, transport, constants (an edge like transport)
//   client    -> protocol only (a type-only import counts: the client ships apart)
//   nothing   -> cli.ts; no file cycles.
// src/constants.ts is the process's tunables (budgets, defaults); what the wire
// itself fixes (name lengths, close codes) lives in src/protocol/limits.ts and
// constants.ts re-exports it, so the server reads one table and the protocol
// depends on nothing.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A file cycle hides which module owns what; break it with a smaller shared file.',
      from: {},
      // The one known cycle, type-only (erased at compile time): the supervisor's
      // message types name ConnectionActor, and the actor sends those messages.
      // The supervisor split landed without cutting it: an Actor<SupervisorMsg>
      // mailbox is not assignable to a narrower request type without a cast.
      to: { circular: true, viaNot: '^src/actors/supervisor-messages\\.ts$' },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'cli.ts is the program entry: it parses flags and starts things; nothing builds on it.',
      from: { pathNot: '^src/cli\\.ts$' },
      to: { path: '^src/cli\\.ts$' },
    },
    {
      name: 'protocol-depends-on-nothing',
      severity: 'error',
      comment: 'src/protocol is the wire contract every side shares; it imports nothing of ours.',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'actors-know-no-socket',
      severity: 'error',
      comment: 'The runtime depends on the protocol and the backplane port, not on an implementation or the edge.',
      from: { path: '^src/actors/' },
      to: { path: '^src/', pathNot: '^src/(actors/|protocol/|backplane/backplane\\.ts$|constants\\.ts$)' },
    },
    {
      name: 'backplane-below-the-runtime',
      severity: 'error',
      comment: 'A backplane implements the port; it knows the protocol, not actors or sockets.',
      from: { path: '^src/backplane/' },
      to: { path: '^src/', pathNot: '^src/(backplane/|protocol/|constants\\.ts$|log\\.ts$)' },
    },
    {
      name: 'transport-is-the-edge',
      severity: 'error',
      comment: 'Transport adapts sockets to actors; it may use actors, protocol and backplane, not debug or the composition root.',
      from: { path: '^src/transport/' },
      to: { path: '^src/', pathNot: '^src/(transport/|actors/|protocol/|backplane/|constants\\.ts$|log\\.ts$)' },
    },
    {
      name: 'debug-is-an-edge',
      severity: 'error',
      comment: 'The debug channel inspects the runtime over a socket; the runtime does not know it.',
      from: { path: '^src/debug/' },
      to: { path: '^src/', pathNot: '^src/(debug/|actors/|protocol/|transport/|constants\\.ts$|log\\.ts$)' },
    },
    {
      name: 'client-knows-only-the-wire',
      severity: 'error',
      comment: 'The client library ships to browsers and other processes: it shares the wire contract and nothing else.',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|protocol)/' },
    },
    {
      name: 'nothing-in-src-imports-tests-or-bench',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too (the rule for client/ says so).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
