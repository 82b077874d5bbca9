// hubbub/client for browsers: the client over the platform WebSocket. Imports
// nothing from Node, so the broker can serve tsc's output as is (GET /client/browser.js).
import { HubbubClient, type ClientOptions } from './client.js';
import { browserSocket } from './socket-browser.js';

export * from './api.js';

export type ConnectOptions = Omit<ClientOptions, 'socket'> & Partial<Pick<ClientOptions, 'socket'>>;

/** Starts a client and resolves once the broker welcomed it; fails if the first attempt fails (unless retryFirst). */
export function connect(url: string, options: ConnectOptions = {}): Promise<HubbubClient> {
  return createClient(url, { retryFirst: false, ...options }).opened();
}

/** Starts a client that keeps trying in the background; watch its `state` event. */
export function createClient(url: string, options: ConnectOptions = {}): HubbubClient {
  return new HubbubClient(url, { socket: browserSocket, ...options });
}
