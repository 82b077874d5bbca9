// Every tunable number of Hubbub, with its unit and where it comes from.
// Defaults that operators may change are also listed in README.md (Limits).

// --- scheduler (see src/actors/scheduler.ts) ---
/** Slots in the local run queue. proc.go: p.runq [256]guintptr. */
export const RUN_QUEUE_SIZE = 256;
/** Every this many ticks the global queue is looked at first. proc.go: schedtick%61. */
export const GLOBAL_QUEUE_CHECK_TICKS = 61;
/**
 * Consecutive turns taken from `runnext` before the ring gets a turn. Go's runnext
 * inherits the time slice, so a ping-pong pair is preempted as one; without this
 * cap such a pair would starve everything in the local ring.
 */
export const RUNNEXT_STREAK_MAX = 61;
/** Messages an actor handles per turn before it goes back to the tail (BEAM: reductions). */
export const DEFAULT_ACTOR_BUDGET = 64;
/** The supervisor is the hub every chat message passes through; it gets a larger turn. */
export const SUPERVISOR_BUDGET = 1024;
/** Time budget of one scheduler slice, ms; then it yields to the event loop. proc.go: forcePreemptNS = 10ms. */
export const SLICE_BUDGET_MS = 10;
/**
 * Bytes of costly work (client frames decoded and parsed, replies built for one
 * reader) after which a slice yields to the event loop even with time left:
 * 64 KiB of text is ~0.5-1 ms to decode and parse, so a ping or another
 * client's frame never waits behind a whole 10 ms slice of one client's big
 * frames or history pages. Small frames reach the time budget first.
 */
export const SLICE_WORK_BYTES = 64 * 1024;
/**
 * A join or leave that changes a room's members counts as this much of that
 * work: the registry's new version, the canonical name, presence and the
 * backplane's calls are ~40-80 us, what decoding a few KB costs. Sixteen of
 * them fill a slice: a connection joining rooms by the hundred (the rooms cap
 * answers the rest cheaply) holds the event loop about a millisecond at a time.
 */
export const ROOM_CHANGE_WORK_BYTES = 4 * 1024;
/** A slice longer than this, ms, is counted as an overrun by the watchdog (sysmon). */
export const OVERRUN_MS = 50;
/** A single handler call longer than this, ms, is recorded as a slow handler. */
export const SLOW_HANDLER_MS = 20;

// --- actors ---
/**
 * Default mailbox capacity, messages. Nothing a client sends is refused at it:
 * a connection's socket stops being read at half of it (and what ws already
 * parsed goes in past it, FRAMES_PER_READ_MAX), and a sender to a full
 * supervisor puts its op in anyway and is not read again until the supervisor
 * releases it. Only Ring.put without `force` refuses; the debug channel's
 * counter hubbub_mailbox_dropped_total counts those.
 */
export const MAILBOX_CAPACITY = 1024;
/** Initial ring allocation of a mailbox once used; grows by doubling up to its capacity. */
export const MAILBOX_INITIAL_SLOTS = 4;
/**
 * Most client frames one socket read can carry: Node reads TCP in chunks of at
 * most 64 KiB and the smallest masked frame is 6 bytes. ws parses a chunk whole
 * before a pause takes effect, so a paused connection's mailbox may take this
 * many frames past its capacity.
 */
export const FRAMES_PER_READ_MAX = Math.ceil((64 * 1024) / 6);
/**
 * Bytes of client frames a connection's mailbox may hold before its socket
 * stops being read (the rest waits in TCP): four chunks of 64 KiB. Half the
 * mailbox (512 frames) of the biggest frames would be tens of megabytes.
 */
export const INPUT_PAUSE_BYTES = 256 * 1024;

// --- protocol and limits (README: Limits) ---
// The wire's own limits and the close codes: src/protocol/limits.ts.
export {
  MAX_FRAME_BYTES, MAX_NAME_LENGTH, MAX_USER_ID_LENGTH, MAX_ROOM_LENGTH, MAX_ID_LENGTH, MAX_LISTED_USERS, MAX_HISTORY_LIMIT,
  CLOSE_NORMAL, CLOSE_GOING_AWAY, CLOSE_PROTOCOL_ERROR, CLOSE_UNSUPPORTED_DATA, CLOSE_ABNORMAL,
  CLOSE_INVALID_PAYLOAD, CLOSE_POLICY_VIOLATION, CLOSE_TOO_BIG, CLOSE_INTERNAL_ERROR, CLOSE_TRY_AGAIN_LATER, CLOSE_KICKED, CLOSE_REPLACED,
} from './protocol/limits.js';
/** Messages kept per room for `history` and recovery (`join` with `since`). */
export const HISTORY_SIZE = 100;
/**
 * A room's history outlives its last member and its last message by this long,
 * ms: long enough for a member's reconnect to resume with `since`, short
 * enough that rooms made and left do not pile up (memory and --workers; with
 * Redis, the keys' expiry).
 */
export const HISTORY_RETENTION_MS = 60_000;
/** Bytes of history kept per room (payloads plus a fixed overhead each), beside the count. */
export const HISTORY_ROOM_BYTES = 1024 * 1024;
/** Bytes of history kept over every room of a process; past it the process's oldest messages go first. */
export const HISTORY_BUDGET_BYTES = 64 * 1024 * 1024;
/**
 * With several nodes: a node that has not refreshed its presence for this
 * long is dead, and its users leave every room; nodes refresh every third of it. ms.
 */
export const PRESENCE_TTL_MS = 15_000;
/**
 * A dropped user's name and presence are held this long before its leave is told, ms
 * (presence-grace.ts): a reconnect within it is not seen by the others at all.
 */
export const PRESENCE_GRACE_MS = 15_000;
/** Names held in grace at once when the process has no connection cap (--max-conns 0); else that cap. */
export const MAX_HELD_NAMES = 10_000;
/** Rooms with more members than this get coalesced presence (docs/protocol.md). */
export const BIG_ROOM_THRESHOLD = 1000;
/** Coalesced presence of a big room is sent at most once per this many ms. */
export const BIG_ROOM_PRESENCE_INTERVAL_MS = 1000;
/**
 * Names listed in each of a presence batch's `joined` and `left` (`count` has
 * the membership). Every name goes to every member, so in a join storm the
 * bytes grow with the square of the room: keep the lists short.
 */
export const MAX_BATCH_NAMES = 100;
/**
 * Every room's presence interval grows with its size, ms per member (a big room's is at least
 * BIG_ROOM_PRESENCE_INTERVAL_MS besides); a room of 400 sends at most one presence frame per
 * 100 ms, one of 10 one per slice. A batch costs one
 * write per member, so at a fixed 1 s a 19k room pays 19k writes every second for as long as
 * a join storm lasts, and a broker slowed by a busy machine makes the storm longer and so
 * pays more (test/big-room: second half of 19k joins cost 2.6x the first in broker CPU).
 * 0.25 ms/member caps presence at ~4,000 writes/s per room (19k members: one batch per 4.75 s).
 */
export const PRESENCE_MS_PER_MEMBER = 0.25;
/**
 * A join or leave that tells a room's members costs the connection one more
 * rate-limit token per this many members (at most the big-room threshold's
 * worth): a member flapping in a room of 400 pays 8 tokens a change, not 1.
 */
export const PRESENCE_CHARGE_MEMBERS = 50;
/**
 * A reply the supervisor builds for one connection (a `history` page, a
 * replay, a `who` list) costs it one more rate-limit token per this many
 * bytes: 100 stored 16 KB messages (1.6 MB) cost 200 tokens, a fifth of a
 * second at the default rate. The work an op makes is paid by whoever asks for
 * it, as BEAM counts reductions, not calls.
 */
export const REPLY_CHARGE_BYTES = 1024;
/**
 * A client frame costs one more rate-limit token per this many bytes (its
 * UTF-8, as read: what decoding and parsing cost): a line of chat costs one
 * token, a 16,000-character ASCII message 16. At the default rate one
 * connection sends at most ~1 MB a second, where it could push 48 MB/s of the
 * longest messages into parsing, history and fan-out.
 */
export const FRAME_CHARGE_BYTES = 1024;
/** A connection whose unsent output exceeds this many bytes is closed with 1013. */
export const MAX_OUTBOX_BYTES = 4 * 1024 * 1024;
/**
 * ... or this many frames held in its socket's user-space write buffer.
 * Frames are shared by every recipient, so a slow consumer's own cost is
 * mostly per frame (a stream-buffer entry: ~60 B of heap, ~85 B of RSS
 * measured), not per byte: 4,096 frames cost ~350 KB.
 */
export const MAX_OUTBOX_FRAMES = 4096;
/** A peer that does not answer our close frame within this many ms is dropped (ws closeTimeout). */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 5_000;

// --- abuse limits (src/actors/rate-limit.ts, src/transport/ip-limit.ts) ---
/**
 * Frames a connection may send per second, sustained (token bucket refill). 0
 * turns the limit off. The default is a flood guard, far above any person
 * typing (and above the bursts of the test suite); a public chat would set
 * something like --rate 20 --burst 40. Load generators pass --rate 0.
 */
export const RATE_LIMIT_PER_S = 1000;
/** Frames a connection may send at once (token bucket size). */
export const RATE_LIMIT_BURST = 2000;
/** Rooms one connection may be in at once (Centrifugo's default too): bounds what one session costs the registry. */
export const MAX_ROOMS_PER_CONN = 128;
/** Open connections per remote IP address. 0 = no cap (the default, so loopback tests can open 10k). */
export const MAX_CONNS_PER_IP = 0;
/**
 * A connection must have sent a whole request head (an upgrade's included)
 * within this many ms of its accept (on a kept-alive one, of the next request's
 * first byte), or it is answered 408 and closed: a socket that sends nothing, or a head that
 * never ends (slowloris), holds a descriptor no longer than this.
 */
export const HEADERS_TIMEOUT_MS = 10_000;

// --- authentication (src/transport/auth.ts) ---
/** HS256 needs a key at least as long as its hash (RFC 7518 §3.2): bytes. */
export const MIN_JWT_SECRET_BYTES = 32;
/** Clock skew tolerated on a token's exp and nbf, seconds. */
export const JWT_CLOCK_TOLERANCE_S = 5;

// --- heartbeat (src/transport/heartbeat.ts) ---
/** Each connection is pinged once per interval; no pong by the next visit closes it. ms. */
export const HEARTBEAT_INTERVAL_MS = 30_000;
/**
 * Buckets of the heartbeat wheel: one timer ticks interval/buckets and visits one bucket.
 * 300 (a tick every 100 ms at 30 s): a visit holds the event loop for its pings and then
 * their pongs, ~20 µs each; with 30 buckets 10,000 connections made that ~5 ms once a
 * second, and every message that came meanwhile waited: 1.4 ms of the many-rooms p99.
 */
export const HEARTBEAT_BUCKETS = 300;
/** The wheel never ticks more often than this, ms (short test intervals get fewer buckets). */
export const HEARTBEAT_MIN_TICK_MS = 10;
/**
 * Pings a visit writes per event-loop turn; the rest of its bucket follows after the loop has
 * polled. 33 pings in one go (10,000 connections) held the loop ~0.5 ms ten times a second
 * (~15 µs a write), and every message read meanwhile waited for all of them.
 */
export const HEARTBEAT_PINGS_PER_TURN = 8;

// --- server ---
export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '0.0.0.0';
/** Graceful shutdown gives clients this long, ms, before the process exits anyway. */
export const SHUTDOWN_TIMEOUT_MS = 10_000;
