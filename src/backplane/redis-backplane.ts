// RedisBackplane: many nodes (processes or machines) joined through one Redis.
//
// One connection per node, in RESP3, carries both the commands and the
// subscriptions. That makes the order of things on the wire the order Redis
// saw them in: a SUBSCRIBE sent before a LOAD or a history read is in effect
// when that read runs, so a message is either in what the read returns or
// arrives on the channel afterwards (the supervisor drops the overlap by seq);
// it cannot fall between the two.
//
//   publish   one script (redis-scripts.ts PUBLISH): INCR the room's seq, XADD
//             the event with id <seq>-0, PUBLISH it, trim the room to its count
//             and byte bounds and every room to the byte budget.
//             The ack waits for the script's reply, so an acked message is in
//             the stream; and for the node to have delivered that seq, so the
//             sender sees its message before its ack (redis-room-feed.ts).
//   interest  SUBSCRIBE room:<room>, then LOAD: the room's seq and roster.
//   presence  names, memberships, heartbeats and reaping: redis-presence.ts.
//   hang     a command unanswered for commandTimeoutMs fails (a publish:
//             `unavailable`, may or may not be stored) and the link is
//             dropped and redialled, so the node serves local rooms instead
//             of stalling behind a Redis that holds its socket open.
//   link down commands fail at once (no offline queue, no resend: a publish
//             is never run twice). Sends go to this node's members only,
//             unsequenced (`"local":true`, ack `stored:false`); history fails
//             with `unavailable`; names are checked on this node only. When
//             Redis is back: scripts loaded, subscriptions renewed, state
//             synced, every room reloaded from its last delivered seq.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { HISTORY_BUDGET_BYTES, HISTORY_ROOM_BYTES, MAX_LISTED_USERS } from '../constants.js';
import { unsequencedEvent } from '../protocol/protocol.js';
import {
  biggestRooms, type Backplane, type BackplaneSink, type HistoryQuery, type HistoryResult, type HistoryStats, type RemoteMembers,
  type Requester, type RoomCount, type StoredMessage,
} from './backplane.js';
import { ONCE_TTL_MS } from './once-keys.js';
import { RoomFeed } from './redis-room-feed.js';
import { reason, RedisPresence } from './redis-presence.js';
import {
  ALL_SCRIPTS, DM, HISTORY, LOAD, PUBLISH, RedisKeys, scriptRunner, WHO, type RunScript, type ScriptArg,
} from './redis-scripts.js';
import { EMPTY_ROSTER } from './roster.js';

export interface RedisBackplaneOptions {
  /** redis://host:port[/db] */
  url: string;
  /** Messages kept per room. */
  historySize: number;
  /** Bytes kept per room (events plus a fixed overhead each). */
  historyRoomBytes?: number;
  /** Bytes kept over every room of the deployment (the Redis's, shared by every node). */
  historyBudgetBytes?: number;
  /** A room's seq and stream expire this long after its last message, unless a node has members in it, ms. */
  historyRetentionMs: number;
  /** A node that has not refreshed its deadline for this long is dead and its users leave, ms. */
  presenceTtlMs: number;
  log: Logger;
  /** Key prefix, to share one Redis between deployments. */
  prefix?: string;
  /** How long start() waits for Redis before going on with the link down, ms. */
  connectWaitMs?: number;
  /**
   * A command unanswered this long fails, and the link is treated as down
   * (reconnected): a Redis that hangs without closing its socket (stopped,
   * swapping, a dead peer behind a stateful firewall) must not stall publishes, ms.
   */
  commandTimeoutMs?: number;
}

/** Default of RedisBackplaneOptions.commandTimeoutMs: far above a healthy Redis's worst, far below a person's patience. */
export const REDIS_COMMAND_TIMEOUT_MS = 2000;

const M = 0x6d; // 'm'
const J = 0x6a; // 'j'
const L = 0x6c; // 'l'
const SPACE = 0x20;
const NEWLINE = 0x0a;

export class RedisBackplane implements Backplane {
  readonly kind = 'redis';
  readonly multiNode = true;
  /** This process's identity in Redis: new at every start, so a restarted node is a new node. */
  readonly nodeId = randomBytes(6).toString('hex');
  readonly #options: RedisBackplaneOptions;
  readonly #keys: RedisKeys;
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #roomPrefix: string;
  readonly #nodeChannel: string;
  #sink: BackplaneSink | null = null;
  #up = false;
  /** What the sink was last told (null: nothing yet). */
  #told: boolean | null = null;
  #closing = false;
  readonly #feeds = new Map<string, RoomFeed>();
  readonly #run: RunScript;
  readonly #presence: RedisPresence;
  #timer: NodeJS.Timeout | null = null;
  #refreshedAt = Date.now();
  /** Counters, for /healthz and tests. */
  readonly stats = { published: 0, localOnly: 0, reloads: 0, outages: 0 };

  constructor(options: RedisBackplaneOptions) {
    this.#options = options;
    this.#log = options.log.child({ backplane: 'redis', node: this.nodeId });
    this.#keys = new RedisKeys(options.prefix ?? 'hubbub:');
    this.#roomPrefix = this.#keys.roomChannel('');
    this.#nodeChannel = this.#keys.nodeChannel(this.nodeId);
    this.#redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false, // a command while down fails now, not when Redis returns
      autoResendUnfulfilledCommands: false, // a publish in flight at a disconnect must not run twice
      maxRetriesPerRequest: 0,
      autoResubscribe: false, // resubscribed by #onUp, before the reloads that depend on it
      enableAutoPipelining: true,
      connectionName: `hubbub-${this.nodeId}`,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
      commandTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
      // A frozen Redis still completes the TCP handshake (the kernel does): the ready check must time out too.
      connectTimeout: options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
    });
    const run = scriptRunner(this.#redis);
    this.#run = (script, keys, args, buffers) => run(script, keys, args, buffers).catch((err: unknown) => {
      if (err instanceof Error && err.message === 'Command timed out') this.#hung();
      throw err;
    });
    this.#presence = new RedisPresence({
      nodeId: this.nodeId, keys: this.#keys, presenceTtlMs: options.presenceTtlMs, run: this.#run, log: this.#log,
    });
  }

  get up(): boolean {
    return this.#up;
  }

  async start(sink: BackplaneSink): Promise<void> {
    this.#sink = sink;
    const redis = this.#redis;
    redis.on('ready', () => this.#onUp());
    redis.on('close', () => this.#onDown());
    redis.on('error', (err: Error) => this.#onError(err));
    redis.on('messageBuffer', (channel: Buffer, message: Buffer) => this.#onPush(channel, message));
    const ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    redis.connect().catch(() => {}); // failures are 'error' events; retries go on
    const wait = this.#options.connectWaitMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ready, new Promise((resolve) => { timer = setTimeout(resolve, wait); })]);
    clearTimeout(timer);
    if (!this.#up) {
      this.#log.warn({ url: this.#options.url }, `redis unreachable after ${wait} ms: starting with the backplane down`);
      this.#tell(false);
    }
    const every = Math.max(100, Math.floor(this.#options.presenceTtlMs / 3));
    this.#timer = setInterval(() => this.#beat(), every);
    this.#timer.unref();
  }

  publish(room: string, head: string, who: Requester, once?: string): void {
    const sink = this.#sink!;
    if (!this.#up) {
      this.stats.localOnly++;
      sink.roomMessage(room, 0, unsequencedEvent(head));
      sink.published(who, room, 0);
      return;
    }
    const k = this.#keys;
    const keys = [k.seq(room), k.log(room), k.historyBytes(room), k.historyIndex, k.historyTotal, k.historyCounters];
    const o = this.#options;
    const args: (string | number)[] = [
      head, o.historySize, o.historyRetentionMs, k.roomChannel(room),
      o.historyRoomBytes ?? HISTORY_ROOM_BYTES, o.historyBudgetBytes ?? HISTORY_BUDGET_BYTES, room, k.prefix,
    ];
    if (once !== undefined) {
      keys.push(k.once(room, once));
      args.push(ONCE_TTL_MS);
    }
    this.#run(PUBLISH, keys, args)
      .then((seq) => {
        // Negative: a publish with this idempotency key was stored already, with that seq.
        if (Number(seq) < 0) return sink.published(who, room, -Number(seq), true);
        this.stats.published++;
        const feed = this.#feeds.get(room);
        if (feed !== undefined) feed.acked(Number(seq), who);
        else sink.published(who, room, Number(seq));
      }, (err: unknown) => sink.publishFailed(who, room, `not stored (${reason(err)})`));
  }

  interest(room: string, on: boolean): void {
    if (on) {
      const feed = new RoomFeed(room, this.#sink!);
      feed.onGap = (f) => this.#load(f);
      this.#feeds.get(room)?.drop();
      this.#feeds.set(room, feed);
      if (!this.#up) {
        feed.linkDown(); // served locally now; loaded when Redis is back
        return;
      }
      this.#redis.subscribe(this.#keys.roomChannel(room)).catch((err: unknown) => this.#log.debug({ err: reason(err), room }, 'subscribe failed'));
      this.#load(feed);
      return;
    }
    const feed = this.#feeds.get(room);
    if (feed === undefined) return;
    this.#feeds.delete(room);
    feed.drop();
    if (this.#up) this.#redis.unsubscribe(this.#keys.roomChannel(room)).catch(() => {});
  }

  history(room: string, query: HistoryQuery, who: Requester, kind: 'join' | 'history'): void {
    const feed = this.#feeds.get(room);
    // A read must not overtake messages the feed still holds: it would hand
    // them to the supervisor after the history that already contained them.
    if (feed !== undefined && feed.state !== 'ready') {
      feed.whenReady(() => this.history(room, query, who, kind));
      return;
    }
    const sink = this.#sink!;
    if (!this.#up) {
      sink.historyFailed(who, room, kind, 'the backplane is down');
      return;
    }
    const since = query.since;
    const args: ScriptArg[] = since !== undefined
      ? ['since', since, this.#options.historySize * 2 + 1000]
      : ['latest', query.limit ?? this.#options.historySize, query.before === undefined ? '+' : `${query.before - 1}-0`];
    this.#run(HISTORY, [this.#keys.seq(room), this.#keys.log(room)], args, true).then((reply) => {
      const r = reply as (number | Buffer)[];
      const latest = Number(r[0]);
      const oldest = Number(r[1]);
      const messages = pairs(r, 2);
      if (since === undefined) messages.reverse();
      const result: HistoryResult = {
        messages, latest,
        recovered: since === undefined || (since >= oldest - 1 && since <= latest),
      };
      sink.history(who, room, kind, result);
    }, (err: unknown) => sink.historyFailed(who, room, kind, reason(err)));
  }

  isReady(room: string): boolean {
    return this.#feeds.get(room)?.announced ?? true;
  }

  remoteMembers(room: string): RemoteMembers {
    return this.#feeds.get(room)?.roster ?? EMPTY_ROSTER;
  }

  claimUser(user: string, who: Requester): boolean {
    return this.#presence.claim(user, who, this.#up, this.#sink!);
  }

  releaseUser(user: string, who: Requester): void {
    this.#presence.release(user, who, this.#up);
  }

  membership(room: string, user: string, on: boolean): void {
    this.#presence.membership(room, user, on, this.#up);
  }

  dm(to: string, payload: Buffer, who: Requester): void {
    const sink = this.#sink!;
    if (!this.#up) {
      sink.dmResult(who, to, 'unavailable');
      return;
    }
    this.#run(DM, [this.#keys.users], [to, payload, this.#keys.nodeChannel('')]).then(
      (sent) => sink.dmResult(who, to, sent === 1 ? 'sent' : 'unknown_user'),
      () => sink.dmResult(who, to, 'unavailable'),
    );
  }

  who(room: string, who: Requester): void {
    const sink = this.#sink!;
    if (!this.#up) {
      sink.members(who, room, [], 0); // no one here, and the others cannot be asked
      return;
    }
    this.#run(WHO, [this.#keys.members(room)], [MAX_LISTED_USERS]).then((reply) => {
      const r = reply as (number | string)[];
      sink.members(who, room, r.slice(1).map(String), Number(r[0]));
    }, () => sink.members(who, room, [], 0));
  }

  listRooms(who: Requester): void {
    this.#scanRooms().then((rooms) => this.#sink!.roomList(who, rooms), (err: unknown) => {
      this.#log.debug({ err: reason(err) }, 'listing rooms failed');
      this.#sink!.roomList(who, []);
    });
  }

  /** Every members hash (a room with members on some node) and its size; SCAN, so Redis is never blocked. */
  async #scanRooms(): Promise<RoomCount[]> {
    if (!this.#up) return [];
    const prefix = this.#keys.members('');
    const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    const rooms: RoomCount[] = [];
    let cursor = '0';
    // Bounded: at most 100 rounds of about 1,000 keys each.
    for (let round = 0; round < 100; round++) {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      if (keys.length > 0) {
        const sizes = await Promise.all(keys.map((k) => this.#redis.hlen(k)));
        keys.forEach((k, i) => { if (sizes[i] > 0) rooms.push({ room: k.slice(prefix.length), count: sizes[i] }); });
      }
      cursor = next;
      if (cursor === '0') break;
    }
    return biggestRooms(rooms);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    if (this.#up) {
      // Leave for good: other nodes hear `leave` for anyone still here, now rather than at the expiry.
      await this.#presence.leave().catch(() => {});
      await this.#redis.quit().catch(() => {});
    }
    this.#redis.disconnect();
  }

  // --- the link ---

  #onUp(): void {
    if (this.#closing) return;
    this.#up = true;
    const redis = this.#redis;
    // Order matters on the one connection: scripts first (a Redis that restarted
    // empty has none), then subscriptions, then SYNC, then the reloads.
    for (const s of ALL_SCRIPTS) redis.script('LOAD', s.lua).catch(() => {});
    const channels = [this.#nodeChannel, ...[...this.#feeds.keys()].map((room) => this.#keys.roomChannel(room))];
    redis.subscribe(...channels).catch((err: unknown) => this.#log.warn({ err: reason(err) }, 'resubscribe failed'));
    this.#presence.sync();
    for (const feed of this.#feeds.values()) {
      if (feed.announced) this.stats.reloads++;
      this.#load(feed);
    }
    if (this.#told === false) this.#log.info('redis is back: subscriptions renewed, state synced, rooms reloading');
    this.#tell(true);
  }

  #onDown(): void {
    if (this.#closing) return;
    const wasUp = this.#up;
    this.#up = false;
    if (!wasUp && this.#told !== null) return; // another failed reconnect of the same outage
    for (const feed of this.#feeds.values()) feed.linkDown();
    if (wasUp) {
      this.stats.outages++;
      this.#log.warn('redis connection lost: serving local rooms only (sends unsequenced, not stored) until it returns');
    }
    this.#tell(false);
  }

  /** A command timed out: the link is as good as down; drop it and let ioredis redial. */
  #hung(): void {
    if (this.#closing || !this.#up) return;
    this.#log.warn({ timeoutMs: this.#options.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS }, 'redis did not answer in time: treating the link as down and reconnecting');
    this.#redis.disconnect(true);
  }

  #onError(err: Error): void {
    // ioredis reports every failed reconnect; once per outage is enough at warn.
    if (this.#up || this.#told === null) this.#log.warn({ err: err.message }, 'redis error');
    else this.#log.debug({ err: err.message }, 'redis error');
  }

  #tell(up: boolean): void {
    if (this.#told === up) return;
    this.#told = up;
    this.#sink!.linkChanged(up);
  }

  // --- rooms ---

  #load(feed: RoomFeed): void {
    const gen = feed.beginLoad();
    const k = this.#keys;
    const from = feed.last >= 0 ? feed.last + 1 : -1;
    const args: ScriptArg[] = [Math.max(0, feed.last), from, this.#options.historySize * 2 + 1000];
    this.#run(LOAD, [k.seq(feed.room), k.log(feed.room), k.members(feed.room)], args, true).then((reply) => {
      if (this.#feeds.get(feed.room) !== feed) return;
      const r = reply as (number | Buffer)[];
      const n = Number(r[1]);
      const members = new Map<string, string>();
      for (let i = 2; i < 2 + n; i += 2) {
        const node = String(r[i + 1]);
        if (node !== this.nodeId) members.set(String(r[i]), node);
      }
      feed.loaded(gen, Number(r[0]), members, pairs(r, 2 + n));
    }, (err: unknown) => {
      if (this.#feeds.get(feed.room) !== feed) return;
      if (this.#up) this.#log.warn({ err: reason(err), room: feed.room }, 'room load failed; serving it with what is known');
      feed.loadFailed(gen);
    });
  }

  #onPush(channel: Buffer, message: Buffer): void {
    const name = channel.toString();
    if (name.startsWith(this.#roomPrefix)) {
      const feed = this.#feeds.get(name.slice(this.#roomPrefix.length));
      if (feed === undefined || message.length < 2) return;
      const kind = message[0];
      if (kind === M) {
        let seq = 0;
        let i = 1;
        for (; i < message.length && message[i] !== SPACE; i++) seq = seq * 10 + (message[i] - 48);
        feed.message(seq, message.subarray(i + 1));
      } else if (kind === J || kind === L) {
        const text = message.toString('utf8', 1);
        const space = text.indexOf(' ');
        const node = text.slice(0, space);
        if (node !== this.nodeId) feed.presence(text.slice(space + 1), node, kind === J ? 'join' : 'leave');
      }
    } else if (name === this.#nodeChannel) {
      const nl = message.indexOf(NEWLINE);
      if (nl > 0) this.#sink!.directMessage(message.toString('utf8', 0, nl), message.subarray(nl + 1));
    }
  }

  /**
   * The deployment's history in Redis, as last read (every heartbeat): the
   * budget's total and index (which still count rooms expired since, until
   * the budget pops them) and its evictions; idle rooms expire by themselves, uncounted.
   */
  historyStats(): HistoryStats {
    return this.#history;
  }

  readonly #history = { bytes: 0, messages: 0, evictions: { budget: 0, roomBytes: 0, idle: 0 } };

  #readHistoryStats(): void {
    const k = this.#keys;
    this.#redis.pipeline().get(k.historyTotal).zcard(k.historyIndex).hgetall(k.historyCounters).exec().then((replies) => {
      if (replies === null) return;
      const [bytes, messages, evictions] = replies.map(([err, value]) => (err === null ? value : null));
      this.#history.bytes = Number(bytes ?? 0);
      this.#history.messages = Number(messages ?? 0);
      const e = (evictions ?? {}) as Record<string, string>;
      this.#history.evictions.budget = Number(e.budget ?? 0);
      this.#history.evictions.roomBytes = Number(e.room ?? 0);
    }, () => {});
  }

  /** Heartbeat (presence) and, now and then, the expiry of the rooms this node serves. */
  #beat(): void {
    if (!this.#up) return;
    this.#presence.beat();
    this.#readHistoryStats();
    const retention = this.#options.historyRetentionMs;
    if (Date.now() - this.#refreshedAt > retention / 4 && this.#feeds.size > 0) {
      this.#refreshedAt = Date.now();
      const pipe = this.#redis.pipeline();
      for (const room of this.#feeds.keys()) {
        pipe.pexpire(this.#keys.seq(room), retention).pexpire(this.#keys.log(room), retention).pexpire(this.#keys.historyBytes(room), retention);
      }
      pipe.exec().catch(() => {});
    }
  }

  /** Nodes this one found dead and reaped. */
  get reaped(): number {
    return this.#presence.reaped;
  }
}

/** seq, event pairs from index `from` of a script's reply. */
function pairs(reply: (number | Buffer)[], from: number): StoredMessage[] {
  const out: StoredMessage[] = [];
  for (let i = from; i + 1 < reply.length; i += 2) out.push({ seq: Number(reply[i]), payload: reply[i + 1] as Buffer });
  return out;
}
