// The one thing the client needs from a runtime: open a WebSocket to a URL and
// report open, text frames and close. Browsers and Node each provide a factory
// (socket-browser.ts, socket-node.ts); client.ts depends on this file only.

export interface SocketHandlers {
  open(): void;
  /** A text frame (binary frames are not part of the protocol and are dropped). */
  message(text: string): void;
  /** Closed, or failed to connect (then code 1006). Called once. */
  close(code: number, reason: string): void;
}

export interface ClientSocket {
  send(text: string): void;
  /** Starts a close handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection without a handshake (a peer that stopped answering). */
  abandon(): void;
}

export type SocketFactory = (url: string, on: SocketHandlers) => ClientSocket;
