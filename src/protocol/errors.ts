// Error classes of Hubbub. Each has a stable `code` (what tests and clients match
// on) and, where the error ends a connection, the WebSocket close code it implies.
// docs/protocol.md lists every code.

export type ErrorCode =
  | 'bad_json'
  | 'bad_request'
  | 'unknown_op'
  | 'not_in_room'
  | 'unknown_user'
  | 'mailbox_full'
  | 'overloaded'
  | 'unavailable'
  | 'internal';

export class HubbubError extends Error {
  override name = 'HubbubError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly closeCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A scheduler or actor invariant was broken: a bug in Hubbub, never a client's fault. */
export class InvariantError extends Error {
  override name = 'InvariantError';
  constructor(where: string, what: string) {
    super(`${where}: ${what}`);
  }
}
