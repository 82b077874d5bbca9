// How much of a room's history one reply may carry. A replay (`join` with
// `since`) or a `history` page is written to the reader at once: past its
// outbox bound (src/transport/output-bound.ts) the reader would be closed 1013
// for reading what it asked for, and a client that rejoins with the same
// `since` would be closed again, for as long as the history holds the big
// messages. So a reply keeps the newest messages that fit under a byte limit
// (half the outbox bounds by default: room for the live messages held behind a
// replay; a replay's messages are frames of their own, so half the frame bound too) and says what it left out: a replay reports `recovered:false` (the
// gap is at its start, as when messages are no longer kept), a history page
// `more:true` (ask again with `before`).
import type { StoredMessage } from '../backplane/backplane.js';

/**
 * The newest of `messages` (oldest first) whose payloads fit in `maxBytes`
 * (and, as frames of their own, in `maxCount`), always at least one, and
 * whether any were left out; `bytes`: their payloads' length.
 */
export function fitReplay(messages: StoredMessage[], maxBytes: number, maxCount = Infinity): { messages: StoredMessage[]; cut: boolean; bytes: number } {
  let bytes = 0;
  let from = messages.length;
  while (from > 0) {
    const next = bytes + messages[from - 1].payload.length;
    // At least the newest, so a page always moves the reader on.
    if ((next > maxBytes || messages.length - from >= maxCount) && from < messages.length) break;
    bytes = next;
    from--;
  }
  return from === 0 ? { messages, cut: false, bytes } : { messages: messages.slice(from), cut: true, bytes };
}
