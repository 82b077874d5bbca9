// What both entries (index.ts for Node, browser.ts) export besides connect().
export {
  HubbubClient, chatUrl,
  type ClientEvents, type ClientOptions, type CloseInfo, type ConnectionState, type StateChange,
} from './client.js';
export { HubbubClientError, type ClientErrorCode } from './errors.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export type { ClientSocket, SocketFactory, SocketHandlers } from './socket.js';
export * from './wire.js';
export { closeDetail, closeWords } from './close-words.js';
export { backWords, OutageWatch, type OutageEvents } from './outage.js';
