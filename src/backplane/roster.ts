// Roster: one room's members on OTHER nodes, as this node mirrors them (user ->
// node id). Loaded from a snapshot when the node gains interest in the room,
// then kept current by the presence events every node publishes on the room's
// channel. Events are idempotent (set / delete, last one wins), so applying
// events that the snapshot already reflects is harmless as long as they are
// applied in order after it.
import type { RemoteMembers } from './backplane.js';

export type PresenceEvent = 'join' | 'leave';

export class Roster implements RemoteMembers {
  readonly #members = new Map<string, string>();
  #version = 0;

  get size(): number {
    return this.#members.size;
  }

  get version(): number {
    return this.#version;
  }

  keys(): IterableIterator<string> {
    return this.#members.keys();
  }

  /** Applies one event; returns whether the roster changed (and presence is worth telling). */
  apply(user: string, node: string, event: PresenceEvent): boolean {
    if (event === 'join') {
      const before = this.#members.get(user);
      this.#members.set(user, node);
      if (before !== node) this.#version++;
      return before === undefined;
    }
    const gone = this.#members.delete(user);
    if (gone) this.#version++;
    return gone;
  }

  /**
   * Replaces the roster with `next` (user -> node) and returns what changed,
   * so that members can be told after a reload (Redis came back).
   */
  replace(next: Map<string, string>): { user: string; event: PresenceEvent }[] {
    const changes: { user: string; event: PresenceEvent }[] = [];
    for (const user of this.#members.keys()) if (!next.has(user)) changes.push({ user, event: 'leave' });
    for (const user of next.keys()) if (!this.#members.has(user)) changes.push({ user, event: 'join' });
    this.#members.clear();
    for (const [user, node] of next) this.#members.set(user, node);
    this.#version++;
    return changes;
  }

  /** Forgets the members of a node (it died). Returns their names. */
  dropNode(node: string): string[] {
    const gone: string[] = [];
    for (const [user, n] of this.#members) if (n === node) gone.push(user);
    for (const user of gone) this.#members.delete(user);
    if (gone.length > 0) this.#version++;
    return gone;
  }
}

/** A roster that is always empty (no interest in the room). */
export const EMPTY_ROSTER: RemoteMembers = new Roster();
