// Hubbub's public surface.
export { Broker, defaultConfig, type BrokerConfig } from './broker.js';
export { Actor, type ActorStatus, type ActorKind, type StopReason } from './actors/actor.js';
export { Scheduler, type SchedulerOptions, type SchedulerStats } from './actors/scheduler.js';
export { Mailbox } from './actors/mailbox.js';
export { Supervisor } from './actors/supervisor.js';
export { ConnectionActor, type Peer } from './actors/connection-actor.js';
export { connectionMachine, type ConnectionState } from './actors/connection-machine.js';
export { HubbubError, type ErrorCode } from './protocol/errors.js';
export * as protocol from './protocol/protocol.js';
