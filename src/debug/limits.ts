// Every tunable number of the debug channel, with its unit and why. Kept next to
// the channel (src/constants.ts holds the broker's own): each bounds what an
// operator's inspector may cost a broker that is serving chat.

/** Slots of the global trace ring: the last this-many messages handled by any actor. */
export const TRACE_RING_SIZE = 8192;
/** A traced text frame keeps at most this many characters (a 64 KiB frame must not stay alive). */
export const TRACE_TEXT_MAX = 256;
/** `actor` returns at most this many recent events of one actor. */
export const ACTOR_RECENT_EVENTS = 50;

/** `actors` pages hold at most this many items; a bigger `limit` is clamped. */
export const MAX_PAGE = 1000;
/** `actors` default page size. */
export const DEFAULT_PAGE = 100;
/** A sorted page within the first this-many rows is found by top-k selection, not a full sort. */
export const TOP_K_SELECT_MAX = 2000;

/** Streamed stats: one sample per this many ms. */
export const STATS_INTERVAL_MS = 1000;
/** Samples kept for the `history` op (5 minutes at 1 Hz): what the inspector's charts start from. */
export const STATS_HISTORY = 300;
/** Streamed lifecycle and transition events per subscriber per second; beyond it they are counted, not sent. */
export const EVENTS_PER_SECOND = 2000;
/**
 * Streamed `events` (handled messages) per subscriber per second. Lower: every
 * chat message is a candidate, and each one sent costs the broker a parse of the
 * frame and a write (measured: ~30 µs), so this caps what a watcher costs chat.
 */
export const HANDLED_EVENTS_PER_SECOND = 200;
/** Queued events are sent together this often, ms: one write per subscriber per flush. */
export const FLUSH_INTERVAL_MS = 100;
/** A debug socket with more unsent output than this, bytes, is a slow subscriber and is dropped (1013). */
export const MAX_DEBUG_BUFFERED_BYTES = 1024 * 1024;
/** Largest frame a debug client may send, bytes: ops are small. */
export const MAX_DEBUG_FRAME_BYTES = 16 * 1024;
/** Debug sockets are pinged every this many stats ticks (30 s); one silent for a whole interval is terminated. */
export const DEBUG_HEARTBEAT_TICKS = 30;
/** Open debug sockets at once; the next is refused with 503 before the upgrade. */
export const MAX_DEBUG_CLIENTS = 32;
