// The limits and codes the wire contract itself fixes: what a client may send
// (docs/protocol.md) and the close codes it may see (docs/errors.md). They live
// here so src/protocol depends on nothing else of Hubbub; src/constants.ts
// re-exports them beside the process's tunables.

/** Largest client frame, bytes. Over it ws closes with 1009. */
export const MAX_FRAME_BYTES = 64 * 1024;
/**
 * Longest `text` of a message or DM, in UTF-16 code units (JavaScript's
 * length). Over it the op is refused `too_large` and the connection stays:
 * well under the frame limit, so a person who pastes too much meets a
 * sentence, not a disconnect (even text that JSON escapes to twice its size fits a frame).
 */
export const MAX_TEXT_LENGTH = 16_384;

/** The words of a `too_large` refusal, shared by the broker and the client library (which refuses first). */
export function textTooLargeMessage(length: number): string {
  return `the text has ${length.toLocaleString('en-US')} characters; at most ${MAX_TEXT_LENGTH.toLocaleString('en-US')} are allowed`;
}
/** User names: 1..32 characters. */
export const MAX_NAME_LENGTH = 32;
/** User ids: a JWT's sub (1..128 characters), or the name a client chose without one (1..32). A DM's `to` is one. */
export const MAX_USER_ID_LENGTH = 128;
/** Room names: 1..64 characters. */
export const MAX_ROOM_LENGTH = 64;
/** Client-chosen op ids echoed in acks: up to 64 characters. */
export const MAX_ID_LENGTH = 64;
/** `joined.users` and `who.users` list at most this many names, plus `count`. */
export const MAX_LISTED_USERS = 1000;
/** Largest `limit` of the `history` op. */
export const MAX_HISTORY_LIMIT = 1000;

// --- WebSocket close codes (RFC 6455 §7.4.1 and the private range 4000-4999) ---
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_UNSUPPORTED_DATA = 1003;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_PAYLOAD = 1007;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL_ERROR = 1011;
export const CLOSE_TRY_AGAIN_LATER = 1013;
export const CLOSE_KICKED = 4000;
/** A newer connection presented this one's resume secret: the name went to it (the old one was half-open). */
export const CLOSE_REPLACED = 4001;
