// The client's one error class. `code` is stable (match on it, not on the
// message): a broker error code when the broker refused the op, or one of the
// client's own conditions below.
import { HubbubError } from '../protocol/errors.js';
import type { ErrorCode, OpId } from './wire.js';

export type ClientErrorCode =
  | ErrorCode
  /** No ack within opTimeoutMs of writing the op. */
  | 'timeout'
  /** The connection dropped while the op was in flight: it may or may not have been done. */
  | 'disconnected'
  /** The offline queue was full (maxQueue ops waiting for a connection). */
  | 'queue_full'
  /** The client was closed (by close(), a kick, or a refused first connection). */
  | 'closed'
  /** A leave() for the same room came before this join was answered. */
  | 'cancelled'
  /** The first connection attempt failed (connect() without retryFirst). */
  | 'connect_failed';

export class HubbubClientError extends HubbubError<ClientErrorCode> {
  override name = 'HubbubClientError';
  constructor(
    code: ClientErrorCode,
    message: string,
    /** The op id this error answers, when it answers one. */
    readonly ref?: OpId,
  ) {
    super(code, message);
  }
}
