// Hubbub's errors: the codes a client may see in an `error` event, and the one
// base class every error Hubbub throws derives from. docs/errors.md lists every
// error code and close code, what each means and what a client should do.

/** Codes of the `error` event: the op was refused, the connection goes on. */
export type ErrorCode =
  | 'bad_json'
  | 'bad_request'
  | 'unknown_op'
  | 'not_in_room'
  | 'unknown_user'
  | 'forbidden'
  | 'too_large'
  | 'too_many_rooms'
  | 'name_taken'
  | 'overloaded'
  | 'unavailable';

/**
 * The base of every error Hubbub throws: the server's (InvariantError, the
 * scheduler's InjectedFault, the debug channel's refusals) and the client
 * library's (HubbubClientError). `code` is stable: match on it, not on the
 * message. `closeCode` is set where the error ends a connection.
 */
export class HubbubError<Code extends string = string> extends Error {
  override name = 'HubbubError';
  constructor(
    readonly code: Code,
    message: string,
    readonly closeCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A scheduler or actor invariant was broken: a bug in Hubbub, never a client's fault. */
export class InvariantError extends HubbubError<'invariant'> {
  override name = 'InvariantError';
  constructor(where: string, what: string) {
    super('invariant', `${where}: ${what}`);
  }
}
