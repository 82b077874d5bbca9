// The client's public types (events, options, states) and URL building, apart
// from the class that implements them (client.ts).
import type { BackoffOptions } from './backoff.js';
import type { HubbubClientError } from './errors.js';
import type { SocketFactory } from './socket.js';
import type {
  ChatMessageEvent, DmEvent, JoinedEvent, LeftEvent, PresenceEvent, WelcomeEvent, WhoEvent,
} from './wire.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ConnectionState;
  /** Consecutive failed attempts so far. */
  attempt: number;
  /** When reconnecting: the wait before the next attempt, ms. */
  delayMs?: number;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ClientEvents {
  state: StateChange;
  welcome: WelcomeEvent;
  message: ChatMessageEvent;
  presence: PresenceEvent;
  joined: JoinedEvent;
  left: LeftEvent;
  dm: DmEvent;
  who: WhoEvent;
  /** Errors that answer no op of this client (or a rejoin it made by itself). */
  error: HubbubClientError;
  /** A connection ended; another attempt follows when willReconnect. */
  disconnect: CloseInfo & { willReconnect: boolean };
  /** The client is done for good. */
  close: CloseInfo;
}

export interface ClientOptions {
  /** User name asked for (the broker may give `name-1a2b` when it is taken). */
  name?: string;
  /** Credential, passed as the `token` query parameter. */
  token?: string;
  /**
   * The `resume` of an earlier welcome (a page reload keeps it), with `name` set to that
   * welcome's user: the broker gives the name back. A wrong or stale one is ignored.
   */
  resume?: string;
  /** Reconnect after a drop (default true). */
  reconnect?: boolean;
  /** Keep retrying when the very first attempt fails (default false for connect(), true for createClient()). */
  retryFirst?: boolean;
  backoff?: Partial<BackoffOptions>;
  /** An op not answered this long after it was written fails with `timeout`, ms (default 10000). */
  opTimeoutMs?: number;
  /** Ops that may wait for a connection (default 100); more fail with `queue_full`. */
  maxQueue?: number;
  /** Silence after which the client pings, ms; a ping unanswered this long after it went out and it reconnects. 0 disables (default 15000). */
  pingIntervalMs?: number;
  /** Rooms to join on connect, each with the seq to resume after (null: from now). */
  rooms?: Record<string, number | null> | ReadonlyMap<string, number | null>;
  /** How to open a socket; the package entries provide one. */
  socket: SocketFactory;
  /** Random source for the jitter (tests). */
  random?: () => number;
}

/** Builds the chat URL: http(s) becomes ws(s), host:port gets ws://, a bare host /ws, name, token and resume become query parameters. Throws TypeError for what is not an address. */
export function chatUrl(base: string, name?: string, token?: string, resume?: string): string {
  // host:port without a scheme is meant as ws:// (new URL would read "localhost:" as the scheme).
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(base) ? base : `ws://${base}`);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/ws';
  if (name !== undefined && name !== '') url.searchParams.set('name', name);
  if (token !== undefined && token !== '') url.searchParams.set('token', token);
  if (resume !== undefined && resume !== '') url.searchParams.set('resume', resume);
  return url.toString();
}
