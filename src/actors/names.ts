// Names: which user a new connection is, and the key that decides whether two
// connections are the same user.
//
// Without a JWT, the name asked for in the URL when no one online has the same
// name in canonical form (src/protocol/names.ts: `Alice`, `ALICE`, Cyrillic
// `аlice` and fullwidth `ａｌｉｃｅ` are all `alice`), else a generated one
// (`guest-1a2b`, or `alice-1a2b` when alice is taken). With a JWT the user is
// the token's sub as it is (an identity provider's id, not a name anyone
// chose; canonical forms would merge ids such as `b6` and `66`), and a second
// connection of the same sub is that user again, in one more tab: it is never
// renamed. With several nodes a key is claimed through the backplane before
// `registered`: while the claim is out it counts as taken here, and a claim
// another node won is retried with a generated name (a sub is granted anyway:
// its tab here is that user too; DMs from other nodes reach the tabs of the
// node that holds the claim).
//
// A connection that presents the resume secret of a name (presence-grace.ts)
// gets that name back: held in grace, or still registered to a half-open
// connection the broker has not seen drop (the supervisor replaces it). A
// wrong or stale secret is no one's: the connection is new, as without one.
import { MAX_NAME_LENGTH } from '../constants.js';
import { nameKey } from '../protocol/names.js';
import type { Backplane, Requester } from '../backplane/backplane.js';
import type { ConnectionActor } from './connection-actor.js';

export interface NamesHost {
  /** Whether a registered session holds the key on this node, or it is held in grace for one. */
  registered(key: string): boolean;
  /** The name to give back when `actor` presents the resume secret of the user under `key`; null: it does not. */
  resume(actor: ConnectionActor, key: string): string | null;
  /** The claim succeeded: put the session in the registry and tell the actor. */
  grant(actor: ConnectionActor, name: string, key: string): void;
}

export class Names {
  readonly #host: NamesHost;
  readonly #backplane: Backplane;
  readonly #exact: boolean;
  /** Connections whose claim is out to the backplane, by actor id; and the keys claimed. */
  readonly #claims = new Map<string, { actor: ConnectionActor; user: string; key: string }>();
  readonly #claimed = new Set<string>();

  /** `exact`: user ids are JWT subs, compared as they are. */
  constructor(host: NamesHost, backplane: Backplane, exact: boolean) {
    this.#host = host;
    this.#backplane = backplane;
    this.#exact = exact;
  }

  /** The key a user id or name is found under (registry, claims, DM routing). */
  keyOf(name: string): string {
    return this.#exact ? name : nameKey(name);
  }

  /** A new connection: find it a name and claim it. */
  register(actor: ConnectionActor): void {
    let name = actor.requestedName;
    if (actor.verified && name !== null) {
      const key = this.keyOf(name);
      if (this.#host.registered(key)) this.#host.grant(actor, name, key); // one more tab: the claim is held
      else this.#claim(actor, name, key);
      return;
    }
    if (name !== null && actor.resume !== null) {
      const key = this.keyOf(name);
      const mine = this.#host.resume(actor, key);
      if (mine !== null) {
        this.#host.grant(actor, mine, key); // the claim is this node's already
        return;
      }
    }
    let key = name === null ? '' : this.keyOf(name);
    if (name === null || this.#taken(key)) {
      name = this.#free(name);
      key = this.keyOf(name);
    }
    this.#claim(actor, name, key);
  }

  /** The backplane's answer to a claim (`user` is the key claimed). */
  claimed(who: Requester, key: string, ok: boolean): void {
    const claim = this.#claims.get(who.actorId);
    if (claim === undefined || claim.key !== key) {
      if (ok) this.#backplane.releaseUser(key, who); // its connection went away meanwhile
      return;
    }
    this.drop(who.actorId);
    const actor = claim.actor;
    if (actor.dead || actor.state !== 'connecting') {
      if (ok) this.#backplane.releaseUser(key, who);
    } else if (ok || actor.verified) {
      this.#host.grant(actor, claim.user, key);
    } else {
      const name = this.#free(actor.requestedName); // taken on another node
      this.#claim(actor, name, this.keyOf(name));
    }
  }

  /** The connection went away: its claim, if one is out, is void. */
  drop(actorId: string): void {
    const claim = this.#claims.get(actorId);
    if (claim === undefined) return;
    this.#claims.delete(actorId);
    this.#claimed.delete(claim.key);
  }

  /** Registers at once when the backplane says the key is ours; else waits for `claimed`. */
  #claim(actor: ConnectionActor, name: string, key: string): void {
    if (this.#backplane.claimUser(key, { actorId: actor.id })) {
      this.#host.grant(actor, name, key);
      return;
    }
    this.#claims.set(actor.id, { actor, user: name, key });
    this.#claimed.add(key);
  }

  #taken(key: string): boolean {
    return this.#host.registered(key) || this.#claimed.has(key);
  }

  /** A generated name: `guest-1a2b` when none was asked, `alice-1a2b` when alice is taken. */
  #free(base: string | null): string {
    // A generated name asked again (a reconnect that could not resume) is renamed from its stem:
    // alice-e060 becomes alice-88c2, not alice-e060-88c2.
    const stem = (base ?? 'guest').replace(/^(.+)-[0-9a-f]{4}$/, '$1').slice(0, MAX_NAME_LENGTH - 5);
    for (;;) {
      const name = `${stem}-${Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0')}`;
      if (!this.#taken(this.keyOf(name))) return name;
    }
  }
}
