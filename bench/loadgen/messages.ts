// The IPC protocol between the orchestrator (fleet.ts) and its load-generator
// processes (worker.ts). Every command carries an id; the worker answers each
// with exactly one reply of that id (or an error), and sends progress freely.
import type { SparseHistogram } from './histogram.js';
import type { Endpoint } from './wire.js';

/** A group of connections created by one connect command, addressed by name later. */
export interface ConnectCmd {
  cmd: 'connect';
  group: string;
  endpoint: Endpoint;
  /** Global index of the first connection (names and rooms derive from it). */
  from: number;
  count: number;
  /** Connection i joins room `${roomPrefix}${floor(i / roomSize)}`. */
  roomPrefix: string;
  roomSize: number;
  /** Source addresses, used round-robin (127.0.0.2, ...). */
  addresses: string[];
  /** Handshakes in flight at once. */
  concurrency: number;
  timeoutMs: number;
  /**
   * Connect with LeanSocket instead of ws's client (cheap per message; latency
   * sampled on the first message of each frame). Hubbub's wire only once
   * ready: the lean receive path parses Hubbub's frames.
   */
  lean?: boolean;
}

/** Sends chat messages round-robin from the group's first `senders` connections. */
export interface RateCmd {
  cmd: 'rate';
  group: string;
  senders: number;
  /** Messages per second from this worker's group in total; 0 stops. */
  rate: number;
  textBytes: number;
}

/** The group's first connection sends as fast as its socket drains, or stops. */
export interface FloodCmd {
  cmd: 'flood';
  group: string;
  on: boolean;
  textBytes: number;
}

/** Opens `count` connections, each closed once ready: accepted/s and failures. */
export interface StormCmd {
  cmd: 'storm';
  endpoint: Endpoint;
  from: number;
  count: number;
  addresses: string[];
  concurrency: number;
  timeoutMs: number;
  /** Keep every connection open once ready (the server must hold them all) instead of closing it. */
  hold?: boolean;
  /**
   * Open through LeanSocket (raw TCP, no HTTP client, no accept-key check) instead
   * of ws's client: every system alike, so that the server's cost sets the rate.
   */
  lean?: boolean;
}

/** Starts a measuring window at t0 (µs, CLOCK_MONOTONIC): counters reset. */
export interface WindowStartCmd {
  cmd: 'window-start';
  window: number;
  t0: number;
}
/** Ends the counting of the window; latencies of messages sent in it are still collected. */
export interface WindowEndCmd {
  cmd: 'window-end';
  window: number;
}
/** Returns the latencies of messages sent in the window and forgets it. */
export interface CollectCmd {
  cmd: 'collect';
  window: number;
}
export interface CountersCmd {
  cmd: 'counters';
}
export interface CloseAllCmd {
  cmd: 'close-all';
}

/** Reconnect storm with resume (resume-clients.ts): fresh clients connect and join `room` (Hubbub only). */
export interface ResumeOpenCmd {
  cmd: 'resume-open';
  host: string;
  port: number;
  room: string;
  /** Client i asks for the name `u<i>`. */
  from: number;
  count: number;
  addresses: string[];
  concurrency: number;
  timeoutMs: number;
}
/** Resets every resume client's socket at once; answers how many. */
export interface ResumeDropCmd {
  cmd: 'resume-drop';
}
/** Every dropped client comes back with its resume secret and `join` + `since`, and catches up. */
export interface ResumeReconnectCmd extends Omit<ResumeOpenCmd, 'cmd' | 'from' | 'count'> {
  cmd: 'resume-reconnect';
  /** When the drop began, µs on CLOCK_MONOTONIC: catch-up times are measured from it. */
  droppedAtUs: number;
}
export interface ResumeCloseCmd {
  cmd: 'resume-close';
}

export type Command =
  | ConnectCmd | RateCmd | FloodCmd | StormCmd | WindowStartCmd | WindowEndCmd | CollectCmd | CountersCmd | CloseAllCmd
  | ResumeOpenCmd | ResumeDropCmd | ResumeReconnectCmd | ResumeCloseCmd;

export interface ConnectResult {
  ready: number;
  failed: number;
  ms: number;
  errors: string[];
}

export interface StormResult extends ConnectResult {
  /** Handshake to ready, per connection. */
  connectLatency: SparseHistogram;
}

export type ResumeOpenResult = ConnectResult;

export interface ResumeReconnectResult {
  ready: number;
  failed: number;
  errors: string[];
  /** Messages received in replays (seq at or below each client's `joined` seq). */
  replayed: number;
  /** Clients whose `joined` said `recovered:false` (or none). */
  unrecovered: number;
  /** Clients that came back under another name than they had (the resume was not honoured). */
  renamed: number;
  /** When the last client of this worker caught up, µs on CLOCK_MONOTONIC. */
  lastCaughtUpUs: number;
  /** Drop to caught up, per client. */
  caughtUp: SparseHistogram;
}

export interface Counters {
  /** Chat messages received (lines carrying a send stamp). */
  msgs: number;
  frames: number;
  bytes: number;
  sent: number;
  /** Connections lost after they were ready. */
  lost: number;
  open: number;
  /** CPU of this process, µs (user + system). */
  cpuUs: number;
  /** Per group: messages received and sent. */
  groups: Record<string, { msgs: number; sent: number }>;
}

export interface CollectResult {
  /** Per group: latency of messages sent in the window. */
  groups: Record<string, SparseHistogram>;
}

export type Reply =
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'progress'; ready: number; failed: number };

export type Envelope = Command & { id: number };
