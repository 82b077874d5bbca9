// RedisPresence: what one node keeps in Redis about its users, and how nodes
// find out that another one died.
//
// A node's names (users) and memberships (members:<room>) are written as they
// change. Each node pushes its deadline in the `nodes` sorted set ahead on
// every heartbeat (a third of the presence TTL, on Redis's clock); a node past
// its deadline is reaped by the first other node whose heartbeat sees it: the
// REAP script removes its members and names and publishes a `leave` on each
// room's channel, so every other node's roster and members follow.
//
// The node also remembers here what it holds, so that whenever Redis may have
// lost or dropped it (Redis came back, possibly empty; or this node was
// reaped during a pause) SYNC writes exactly that back.
import type { Logger } from 'pino';
import type { BackplaneSink, Requester } from './backplane.js';
import {
  CLAIM, HEARTBEAT, MEMBER, REAP, RELEASE, SYNC, type RedisKeys, type RunScript, type ScriptArg,
} from './redis-scripts.js';

export interface RedisPresenceOptions {
  nodeId: string;
  keys: RedisKeys;
  presenceTtlMs: number;
  run: RunScript;
  log: Logger;
}

export class RedisPresence {
  readonly #o: RedisPresenceOptions;
  readonly #owner: (actorId: string) => string;
  /** This node's names (name -> actor id) and memberships (room -> users). */
  readonly #users = new Map<string, string>();
  readonly #memberships = new Map<string, Set<string>>();
  /** Nodes this one reaped. */
  reaped = 0;

  constructor(options: RedisPresenceOptions) {
    this.#o = options;
    this.#owner = (actorId) => `${options.nodeId} ${actorId}`;
  }

  /**
   * Claims `user` for a session. With the link down the name is only checked
   * on this node (true at once; SYNC reports a clash later); otherwise the
   * answer goes to sink.claimed.
   */
  claim(user: string, who: Requester, up: boolean, sink: BackplaneSink): boolean {
    if (!up) {
      this.#users.set(user, who.actorId);
      return true;
    }
    const { keys, nodeId, run } = this.#o;
    run(CLAIM, [keys.users, keys.nodes, keys.nodeUsers(nodeId)], [user, this.#owner(who.actorId), nodeId])
      .then((ok) => ok === 1, () => true) // Redis failed meanwhile: as if down
      .then((ok) => {
        if (ok) this.#users.set(user, who.actorId);
        sink.claimed(who, user, ok);
      });
    return false;
  }

  release(user: string, who: Requester, up: boolean): void {
    if (this.#users.get(user) !== who.actorId) return;
    this.#users.delete(user);
    if (!up) return;
    const { keys, nodeId, run } = this.#o;
    run(RELEASE, [keys.users, keys.nodeUsers(nodeId)], [user, this.#owner(who.actorId)]).catch(() => {});
  }

  membership(room: string, user: string, on: boolean, up: boolean): void {
    let users = this.#memberships.get(room);
    if (on) {
      if (users === undefined) this.#memberships.set(room, (users = new Set()));
      users.add(user);
    } else if (users !== undefined) {
      users.delete(user);
      if (users.size === 0) this.#memberships.delete(room);
    }
    if (!up) return;
    const { keys, nodeId, run } = this.#o;
    run(MEMBER, [keys.members(room), keys.nodeMembers(nodeId)], [nodeId, user, room, keys.roomChannel(room), on ? '1' : '0'])
      .catch((err: unknown) => this.#o.log.debug({ err: reason(err), room, user }, 'membership not written; SYNC will'));
  }

  /** Heartbeat: push this node's deadline; reap the nodes found past theirs. */
  beat(): void {
    const { keys, nodeId, presenceTtlMs, run, log } = this.#o;
    run(HEARTBEAT, [keys.nodes], [nodeId, presenceTtlMs]).then((reply) => {
      const r = reply as (number | string)[];
      if (Number(r[0]) === 1) {
        log.warn('this node was reaped (or Redis lost its data) while alive: writing its state back');
        this.sync();
      }
      for (const dead of r.slice(1).map(String)) {
        run(REAP, [keys.nodes], [keys.prefix, dead, '0']).then((left) => {
          if (Number(left) < 0) return; // alive again, or reaped by another node first
          this.reaped++;
          log.info({ dead, members: Number(left) }, 'reaped a node past its deadline: its users left their rooms');
        }, () => {});
      }
    }, (err: unknown) => log.debug({ err: reason(err) }, 'heartbeat failed'));
  }

  /** Makes Redis hold exactly this node's names and memberships (and its deadline). */
  sync(): void {
    const { keys, nodeId, presenceTtlMs, run, log } = this.#o;
    const args: ScriptArg[] = [keys.prefix, nodeId, presenceTtlMs, this.#users.size];
    for (const [name, actor] of this.#users) args.push(name, this.#owner(actor));
    for (const [room, users] of this.#memberships) for (const user of users) args.push(room, user);
    run(SYNC, [keys.nodes], args).then((conflicts) => {
      const names = conflicts as string[];
      if (names.length > 0) log.warn({ names }, 'names held on another live node too (taken while Redis was away)');
    }, (err: unknown) => log.debug({ err: reason(err) }, 'sync failed; retried when the link returns'));
  }

  /** Leaves for good: the other nodes hear `leave` for anyone still here now, not at the expiry. */
  leave(): Promise<unknown> {
    const { keys, nodeId, run } = this.#o;
    return run(REAP, [keys.nodes], [keys.prefix, nodeId, '1']);
  }
}

export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
