// Names: which user name a new connection gets.
//
// The name asked for in the URL when it is free, else a generated one
// (`guest-1a2b`, or `alice-1a2b` when alice is taken). Free and taken are
// decided on the name's canonical key (protocol/names.ts): `ALICE`, a
// fullwidth `ａｌｉｃｅ` or a Cyrillic `аlice` is taken when alice is. With several nodes a
// name is claimed through the backplane before `registered`: while the claim
// is out the name counts as taken here, and a claim another node won is
// retried with a generated name.
import { MAX_NAME_LENGTH } from '../constants.js';
import type { Backplane, Requester } from '../backplane/backplane.js';
import { nameKey } from '../protocol/names.js';
import type { ConnectionActor } from './connection-actor.js';

export interface NamesHost {
  /** Whether a registered session holds the name on this node. */
  registered(name: string): boolean;
  /** The claim succeeded: put the session in the registry and tell the actor. */
  grant(actor: ConnectionActor, name: string): void;
}

export class Names {
  readonly #host: NamesHost;
  readonly #backplane: Backplane;
  /** Connections whose name claim is out to the backplane, by actor id; and the names. */
  readonly #claims = new Map<string, { actor: ConnectionActor; user: string }>();
  readonly #claimed = new Set<string>();

  constructor(host: NamesHost, backplane: Backplane) {
    this.#host = host;
    this.#backplane = backplane;
  }

  /** A new connection: find it a name and claim it. */
  register(actor: ConnectionActor): void {
    let name = actor.requestedName;
    if (name === null || this.#taken(name)) name = this.#free(name);
    this.#claim(actor, name);
  }

  /** The backplane's answer to a claim. */
  claimed(who: Requester, user: string, ok: boolean): void {
    const claim = this.#claims.get(who.actorId);
    // The backplane knows names by their keys: `user` is the key claimed.
    if (claim === undefined || nameKey(claim.user) !== user) {
      if (ok) this.#backplane.releaseUser(user, who); // its connection went away meanwhile
      return;
    }
    this.drop(who.actorId);
    const actor = claim.actor;
    if (actor.dead || actor.state !== 'connecting') {
      if (ok) this.#backplane.releaseUser(user, who);
    } else if (ok) {
      this.#host.grant(actor, claim.user); // the name as asked; `user` is its key
    } else {
      this.#claim(actor, this.#free(actor.requestedName)); // taken on another node
    }
  }

  /** The connection went away: its claim, if one is out, is void. */
  drop(actorId: string): void {
    const claim = this.#claims.get(actorId);
    if (claim === undefined) return;
    this.#claims.delete(actorId);
    this.#claimed.delete(nameKey(claim.user));
  }

  /** Registers at once when the backplane says the name is ours; else waits for `claimed`. */
  #claim(actor: ConnectionActor, name: string): void {
    if (this.#backplane.claimUser(nameKey(name), { actorId: actor.id })) {
      this.#host.grant(actor, name);
      return;
    }
    this.#claims.set(actor.id, { actor, user: name });
    this.#claimed.add(nameKey(name));
  }

  #taken(name: string): boolean {
    return this.#host.registered(name) || this.#claimed.has(nameKey(name));
  }

  /** A generated name: `guest-1a2b` when none was asked, `alice-1a2b` when alice is taken. */
  #free(base: string | null): string {
    const stem = (base ?? 'guest').slice(0, MAX_NAME_LENGTH - 5);
    for (;;) {
      const name = `${stem}-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0')}`;
      if (!this.#taken(name)) return name;
    }
  }
}
