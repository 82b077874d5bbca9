// The Redis side of the Redis backplane: key names and the Lua scripts that
// change shared state. Each script is one atomic step, so no other node ever
// sees half of a publish, a claim or a reaping.
//
// Keys (prefix `hubbub:` by default; one Redis, not Redis Cluster: the reaping
// and sync scripts touch keys they compute):
//   seq:<room>              string   the room's latest seq (INCR)
//   log:<room>              stream   the room's last messages, id <seq>-0, field m = event JSON
//   hbytes:<room>           string   what the room's stream is charged (events + 96 B each)
//   history:index           zset     "<room>\n<seq>\n<charge>" by append order: every
//                                    message kept, oldest first, for the budget over all rooms
//   history:bytes           string   the sum of the index's charges (expired rooms' too, until popped)
//   history:counters        hash     clock (the index's order), budget / room (messages
//                                    dropped before the count bound, by which bound)
//   members:<room>          hash     user -> node id, every node's members of the room
//   users                   hash     user -> "<node> <actor>", the names in use
//   nodes                   zset     node id -> deadline (ms, Redis clock); a node past it is dead
//   node:<id>:users         set      the names a node holds (to reap them)
//   node:<id>:members       set      "<room>\n<user>" entries a node holds (to reap them)
// Channels:
//   room:<room>             "m<seq> <event>" a message; "j<node> <user>" / "l<node> <user>" presence
//   node:<id>               "<user>\n<event>" a DM for a user of that node
// Room and user names never contain control characters, so "\n" separates safely.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MESSAGE_OVERHEAD_BYTES } from './room-history.js';

export class RedisKeys {
  constructor(readonly prefix: string) {}
  seq(room: string): string { return `${this.prefix}seq:${room}`; }
  log(room: string): string { return `${this.prefix}log:${room}`; }
  /** What a room's stream is charged; `hbytes:` + room, as PUBLISH computes it for other rooms. */
  historyBytes(room: string): string { return `${this.prefix}hbytes:${room}`; }
  get historyIndex(): string { return `${this.prefix}history:index`; }
  get historyTotal(): string { return `${this.prefix}history:bytes`; }
  get historyCounters(): string { return `${this.prefix}history:counters`; }
  members(room: string): string { return `${this.prefix}members:${room}`; }
  roomChannel(room: string): string { return `${this.prefix}room:${room}`; }
  /** An idempotency key of a publish (the server API's id); holds the seq it got. */
  once(room: string, key: string): string { return `${this.prefix}once:${room}\u0000${key}`; }
  get users(): string { return `${this.prefix}users`; }
  get nodes(): string { return `${this.prefix}nodes`; }
  nodeUsers(node: string): string { return `${this.prefix}node:${node}:users`; }
  nodeMembers(node: string): string { return `${this.prefix}node:${node}:members`; }
  nodeChannel(node: string): string { return `${this.prefix}node:${node}`; }
}

export interface Script {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, lua: string): Script {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

// Milliseconds on Redis's clock: every node judges deadlines by the same clock.
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * KEYS seq, log, hbytes, history:index, history:bytes, history:counters[, once].
 * ARGV head, maxlen, retentionMs, channel, roomBytes, budgetBytes, room, prefix[, onceTtlMs].
 * With `once` (an idempotency key) already set, nothing is stored: returns -(its seq).
 * Assigns the seq, stores the event, publishes it; returns the seq. The ack
 * is sent only after this returned, so an acked message is in the stream.
 *
 * Then the bounds, exactly: the room's oldest entries go while it has more
 * than maxlen or is charged more than roomBytes (the newest always stays),
 * and while every room together is charged more than budgetBytes the oldest
 * entries of the index go, whichever room (a room expired meanwhile: its
 * entry goes, nothing else to delete). The budget's keys are computed from
 * the index (one Redis, not Redis Cluster, as the reaping scripts).
 */
export const PUBLISH = script('publish', `
if KEYS[7] then
  local prior = redis.call('GET', KEYS[7])
  if prior then return -tonumber(prior) end
end
local seq = redis.call('INCR', KEYS[1])
local event = ARGV[1] .. seq .. '}'
local added = redis.pcall('XADD', KEYS[2], seq .. '-0', 'm', event)
if type(added) == 'table' and added.err then
  -- The stream is ahead of the counter (the counter was lost): go on after the stream.
  local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  seq = tonumber(string.match(top[1][1], '^(%d+)')) + 1
  redis.call('SET', KEYS[1], seq)
  event = ARGV[1] .. seq .. '}'
  redis.call('XADD', KEYS[2], seq .. '-0', 'm', event)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], 'm' .. seq .. ' ' .. event)
if KEYS[7] then redis.call('SET', KEYS[7], seq, 'PX', ARGV[9]) end

local room = ARGV[7]
local charge = #event + ${MESSAGE_OVERHEAD_BYTES}
-- A counter, not the clock: two appends in one microsecond must keep their order.
redis.call('ZADD', KEYS[4], redis.call('HINCRBY', KEYS[6], 'clock', 1), room .. '\\n' .. seq .. '\\n' .. charge)
local roomBytes = redis.call('INCRBY', KEYS[3], charge)
redis.call('PEXPIRE', KEYS[3], ARGV[3])
local total = redis.call('INCRBY', KEYS[5], charge)
local maxlen = tonumber(ARGV[2])
local n = redis.call('XLEN', KEYS[2])
while n > 1 and (n > maxlen or roomBytes > tonumber(ARGV[5])) do
  local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  local size = #first[2][2] + ${MESSAGE_OVERHEAD_BYTES}
  redis.call('XDEL', KEYS[2], first[1])
  redis.call('ZREM', KEYS[4], room .. '\\n' .. string.match(first[1], '^(%d+)') .. '\\n' .. size)
  roomBytes = redis.call('DECRBY', KEYS[3], size)
  total = redis.call('DECRBY', KEYS[5], size)
  if n <= maxlen then redis.call('HINCRBY', KEYS[6], 'room', 1) end
  n = n - 1
end
while total > tonumber(ARGV[6]) do
  local popped = redis.call('ZPOPMIN', KEYS[4])
  if #popped == 0 then break end
  local r, s, size = string.match(popped[1], '^(.*)\\n(%d+)\\n(%d+)$')
  total = redis.call('DECRBY', KEYS[5], size)
  if redis.call('XDEL', ARGV[8] .. 'log:' .. r, s .. '-0') == 1 then
    redis.call('DECRBY', ARGV[8] .. 'hbytes:' .. r, size)
    redis.call('HINCRBY', KEYS[6], 'budget', 1)
  end
end
return seq
`);

/**
 * KEYS seq, log. ARGV mode ('since' | 'latest'), n (a seq or a limit), then
 * for since the cap, for latest the last id to read ('+' or '<before-1>-0').
 * Returns {latest, oldest, ids..., events...} read at one instant: the room's
 * seq, the oldest seq still kept (latest + 1 when none), and the messages.
 */
export const HISTORY = script('history', `
local latest = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local oldest = latest + 1
if #first > 0 then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
local entries
if ARGV[1] == 'since' then
  entries = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[2]) + 1) .. '-0', '+', 'COUNT', ARGV[3])
else
  entries = redis.call('XREVRANGE', KEYS[2], ARGV[3], '-', 'COUNT', ARGV[2])
end
local out = {latest, oldest}
for _, e in ipairs(entries) do
  table.insert(out, tonumber(string.match(e[1], '^(%d+)')))
  table.insert(out, e[2][2])
end
return out
`);

/**
 * KEYS seq, log, members. ARGV minSeq, fromSeq (-1: no messages), cap.
 * A room's state when a node (re)gains interest: {seq, nMembers*2 flat
 * user,node..., then seq,event pairs after fromSeq}. When the counter is
 * below minSeq (Redis lost its data while a node remembers more), it is
 * raised to minSeq so seqs never go backwards for that node's members.
 */
export const LOAD = script('load', `
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local min = tonumber(ARGV[1])
if seq < min then
  redis.call('SET', KEYS[1], min)
  seq = min
end
local members = redis.call('HGETALL', KEYS[3])
local out = {seq, #members}
for _, v in ipairs(members) do table.insert(out, v) end
local from = tonumber(ARGV[2])
if from >= 0 then
  for _, e in ipairs(redis.call('XRANGE', KEYS[2], from .. '-0', '+', 'COUNT', ARGV[3])) do
    table.insert(out, tonumber(string.match(e[1], '^(%d+)')))
    table.insert(out, e[2][2])
  end
end
return out
`);

/**
 * KEYS members, nodeMembers. ARGV node, user, room, channel, on ('1' | '0').
 * A member of this node joined or left; other nodes hear it on the room's
 * channel (only when something changed).
 */
export const MEMBER = script('member', `
local entry = ARGV[3] .. '\\n' .. ARGV[2]
if ARGV[5] == '1' then
  local prev = redis.call('HGET', KEYS[1], ARGV[2])
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
  redis.call('SADD', KEYS[2], entry)
  if prev ~= ARGV[1] then redis.call('PUBLISH', ARGV[4], 'j' .. ARGV[1] .. ' ' .. ARGV[2]) end
else
  if redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[1] then
    redis.call('HDEL', KEYS[1], ARGV[2])
    redis.call('PUBLISH', ARGV[4], 'l' .. ARGV[1] .. ' ' .. ARGV[2])
  end
  redis.call('SREM', KEYS[2], entry)
end
return 1
`);

/**
 * KEYS users, nodes, nodeUsers. ARGV name, owner ("<node> <actor>"), node.
 * 1 when the name is now the owner's: it was free, already the owner's, or
 * held by a node that is dead (past its deadline, not reaped yet).
 */
export const CLAIM = script('claim', `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur ~= ARGV[2] then
  local node = string.match(cur, '^(%S+)')
  if node == ARGV[3] then return 0 end
  local deadline = redis.call('ZSCORE', KEYS[2], node)
  if deadline then
    ${NOW}
    if tonumber(deadline) >= now then return 0 end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
`);

/** KEYS users, nodeUsers. ARGV name, owner. */
export const RELEASE = script('release', `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
`);

/** KEYS users. ARGV to, event, node channel prefix. 1 when handed to the recipient's node. */
export const DM = script('dm', `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
redis.call('PUBLISH', ARGV[3] .. string.match(cur, '^(%S+)'), ARGV[1] .. '\\n' .. ARGV[2])
return 1
`);

/** KEYS members. ARGV max names. {count, names...} */
export const WHO = script('who', `
local out = {redis.call('HLEN', KEYS[1])}
for _, u in ipairs(redis.call('HRANDFIELD', KEYS[1], ARGV[1])) do table.insert(out, u) end
return out
`);

/**
 * KEYS nodes. ARGV node, ttlMs. This node is alive until now + ttl.
 * Returns {1 if the node was not registered (new, or reaped meanwhile), dead nodes...}.
 */
export const HEARTBEAT = script('heartbeat', `
${NOW}
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local out = {added}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, 16)) do
  if n ~= ARGV[1] then table.insert(out, n) end
end
return out
`);

// Removes every member and name a node holds, publishing `leave` for each member.
const REAP_BODY = `
local p, node = ARGV[1], ARGV[2]
local left = 0
local mkey = p .. 'node:' .. node .. ':members'
for _, entry in ipairs(redis.call('SMEMBERS', mkey)) do
  local room, user = string.match(entry, '^(.-)\\n(.*)$')
  local hk = p .. 'members:' .. room
  if redis.call('HGET', hk, user) == node then
    redis.call('HDEL', hk, user)
    redis.call('PUBLISH', p .. 'room:' .. room, 'l' .. node .. ' ' .. user)
    left = left + 1
  end
end
local ukey = p .. 'node:' .. node .. ':users'
for _, name in ipairs(redis.call('SMEMBERS', ukey)) do
  local cur = redis.call('HGET', p .. 'users', name)
  if cur and string.sub(cur, 1, #node + 1) == node .. ' ' then redis.call('HDEL', p .. 'users', name) end
end
redis.call('DEL', mkey, ukey)
`;

/**
 * KEYS nodes. ARGV prefix, node, force ('1': this node leaving for good).
 * Reaps a node past its deadline (another node may have done it already, or it
 * came back: then nothing happens). Returns the members removed, -1 if alive.
 */
export const REAP = script('reap', `
if ARGV[3] ~= '1' then
  local deadline = redis.call('ZSCORE', KEYS[1], ARGV[2])
  ${NOW}
  if deadline and tonumber(deadline) >= now then return -1 end
end
redis.call('ZREM', KEYS[1], ARGV[2])
${REAP_BODY}
return left
`);

/**
 * KEYS nodes. ARGV prefix, node, ttlMs, nUsers, then nUsers (name, owner)
 * pairs, then (room, user) pairs. Makes Redis hold exactly this node's
 * present state (after Redis came back, or after the node was reaped while
 * alive), publishing presence for what changed. Returns the names another
 * live node holds (both keep them; logged).
 */
export const SYNC = script('sync', `
local p, node = ARGV[1], ARGV[2]
${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), node)
local conflicts = {}
local ukey = p .. 'node:' .. node .. ':users'
local users = p .. 'users'
local want = {}
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local name, owner = ARGV[i], ARGV[i + 1]
  i = i + 2
  want[name] = true
  local cur = redis.call('HGET', users, name)
  local holder = cur and string.match(cur, '^(%S+)')
  local alive = holder and holder ~= node and redis.call('ZSCORE', KEYS[1], holder)
  if alive and tonumber(alive) >= now then
    table.insert(conflicts, name)
  else
    redis.call('HSET', users, name, owner)
    redis.call('SADD', ukey, name)
  end
end
for _, name in ipairs(redis.call('SMEMBERS', ukey)) do
  if not want[name] then
    local cur = redis.call('HGET', users, name)
    if cur and string.sub(cur, 1, #node + 1) == node .. ' ' then redis.call('HDEL', users, name) end
    redis.call('SREM', ukey, name)
  end
end
local mkey = p .. 'node:' .. node .. ':members'
local wantm = {}
while i < #ARGV do
  local room, user = ARGV[i], ARGV[i + 1]
  i = i + 2
  local entry = room .. '\\n' .. user
  wantm[entry] = true
  local hk = p .. 'members:' .. room
  if redis.call('HGET', hk, user) ~= node then
    redis.call('HSET', hk, user, node)
    redis.call('PUBLISH', p .. 'room:' .. room, 'j' .. node .. ' ' .. user)
  end
  redis.call('SADD', mkey, entry)
end
for _, entry in ipairs(redis.call('SMEMBERS', mkey)) do
  if not wantm[entry] then
    local room, user = string.match(entry, '^(.-)\\n(.*)$')
    local hk = p .. 'members:' .. room
    if redis.call('HGET', hk, user) == node then
      redis.call('HDEL', hk, user)
      redis.call('PUBLISH', p .. 'room:' .. room, 'l' .. node .. ' ' .. user)
    end
    redis.call('SREM', mkey, entry)
  end
end
return conflicts
`);

export const ALL_SCRIPTS: readonly Script[] = [PUBLISH, HISTORY, LOAD, MEMBER, CLAIM, RELEASE, DM, WHO, HEARTBEAT, REAP, SYNC];

export type ScriptArg = string | number | Buffer;

/** Runs a script: its reply with strings (or Buffers when `buffers`). */
export type RunScript = (script: Script, keys: string[], args: ScriptArg[], buffers?: boolean) => Promise<unknown>;

/**
 * EVALSHA, falling back to EVAL when Redis lost the script (SCRIPT FLUSH, a
 * restart: the backplane loads every script when the link comes up, so this is
 * a safety net, not the usual path).
 */
export function scriptRunner(redis: Redis): RunScript {
  const calls = redis as unknown as ScriptCalls;
  return (script, keys, args, buffers = false) => {
    const argv = [keys.length, ...keys, ...args];
    const call = buffers ? calls.evalshaBuffer(script.sha, ...argv) : calls.evalsha(script.sha, ...argv);
    return call.catch((err: unknown) => {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return buffers ? calls.evalBuffer(script.lua, ...argv) : calls.eval(script.lua, ...argv);
    });
  };
}

/**
 * The script calls as ioredis has them at run time: its typings lack the
 * *Buffer variants of EVAL and EVALSHA (replies with Buffers, not strings).
 */
interface ScriptCalls {
  evalsha(sha: string, ...argv: ScriptArg[]): Promise<unknown>;
  evalshaBuffer(sha: string, ...argv: ScriptArg[]): Promise<unknown>;
  eval(lua: string, ...argv: ScriptArg[]): Promise<unknown>;
  evalBuffer(lua: string, ...argv: ScriptArg[]): Promise<unknown>;
}
