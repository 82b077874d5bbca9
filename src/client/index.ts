// hubbub/client for Node: the client over the ws package.
import { HubbubClient, type ClientOptions } from './client.js';
import { nodeSocket } from './socket-node.js';

export * from './api.js';

export type ConnectOptions = Omit<ClientOptions, 'socket'> & Partial<Pick<ClientOptions, 'socket'>>;

/** Starts a client and resolves once the broker welcomed it; fails if the first attempt fails (unless retryFirst). */
export function connect(url: string, options: ConnectOptions = {}): Promise<HubbubClient> {
  return createClient(url, { retryFirst: false, ...options }).opened();
}

/** Starts a client that keeps trying in the background; watch its `state` event. */
export function createClient(url: string, options: ConnectOptions = {}): HubbubClient {
  return new HubbubClient(url, { socket: nodeSocket, ...options });
}
