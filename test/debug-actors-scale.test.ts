// The `actors` query with 100,000 connections: it walks references, sorts by
// top-k selection and serializes only the page; the index holds nothing per
// open connection.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConnectionActor, type ConnectionEnv, type Peer } from '../src/actors/connection-actor.js';
import { INITIAL_CONNECTION_SNAPSHOT, stepConnection } from '../src/actors/connection-machine.js';
import { emptyTrie, trieSet } from '../src/actors/hash-trie.js';
import { emptyRegistry, RoomLive, type RegistryState, type Room } from '../src/actors/registry.js';
import { Scheduler } from '../src/actors/scheduler.js';
import { ActorIndex } from '../src/debug/actor-index.js';
import { listActors } from '../src/debug/actor-query.js';
import { parseClientOp } from '../src/protocol/protocol.js';

const N = 100_000;

const peer: Peer = { deliver() {}, closeAfterFlush() {}, pauseReading() {}, resumeReading() {}, remote: '127.0.0.1:1', readOp: (frame) => parseClientOp(frame.toString()) };

function build(): { index: ActorIndex; actors: ConnectionActor[] } {
  const scheduler = new Scheduler();
  const env = { scheduler, supervisor: null, onTransition: null } as unknown as ConnectionEnv; // never sent to here
  const state = emptyRegistry() as { -readonly [K in keyof RegistryState]: RegistryState[K] };
  const index = new ActorIndex({ get state() { return state; } });
  const open = stepConnection(INITIAL_CONNECTION_SNAPSHOT, { type: 'REGISTERED' });
  const members = emptyTrie<ConnectionActor>();
  const actors: ConnectionActor[] = [];
  // A value nobody else holds: filled in place, without immer (see hash-trie.ts).
  for (let i = 1; i <= N; i++) {
    const a = new ConnectionActor(`c${i}`, peer, env, null);
    index.spawned(a);
    a.user = `user${i}`;
    a.snapshot = open;
    index.transitioned(a, 'connecting');
    a.handled = (i * 7919) % 1000; // a spread of counts
    const rooms = emptyTrie<string>();
    if (i % 10 === 0) trieSet(rooms, 'ten', 'ten');
    trieSet(state.sessions, a.id, { actor: a, user: a.user, key: a.user, rooms });
    trieSet(state.users, a.user, { name: a.user, tabs: [a], owner: a.id });
    if (rooms.size > 0) trieSet(members, a.id, a);
    actors.push(a);
  }
  const room: Room = { name: 'ten', key: 'ten', members, departures: 0, live: new RoomLive() };
  trieSet(state.rooms, 'ten', room);
  return { index, actors };
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

const Scale = suite('actors query at 100k');

// No wall-clock bounds here: speed is a benchmark's claim, not a unit test's
// (a loaded CI machine would make it flaky). HUBBUB_PRINT_TIMINGS=1 prints them.
Scale('pages, sorts and filters 100k actors, serializing only the page', () => {
  const { index, actors } = build();
  assert.is(index.byState.open, N);
  let transient = 0;
  index.forEachTransient(() => void transient++);
  assert.is(transient, 0, 'the index holds nothing per open connection');

  const first = timed(() => listActors(index, { limit: 100 }));
  assert.equal({ total: first.value.total, n: first.value.items.length }, { total: N, n: 100 });
  const plain = timed(() => listActors(index, { offset: 50_000, limit: 100 }));
  assert.is(plain.value.total, N);
  assert.is(plain.value.items.length, 100);

  const busiest = timed(() => listActors(index, { sort: 'handled', limit: 100 }));
  assert.is(busiest.value.items.length, 100);
  assert.ok(busiest.value.items.every((a, i, all) => i === 0 || all[i - 1].handled >= a.handled), 'sorted by handled, descending');
  assert.is(busiest.value.items[0].handled, 999);

  actors[12_345].mailbox.put(Buffer.from('a frame'));
  const deepest = timed(() => listActors(index, { sort: 'mailbox', limit: 10 }));
  assert.is(deepest.value.items[0].id, 'c12346');

  const byId = timed(() => listActors(index, { sort: 'id', offset: 100, limit: 50 }));
  assert.is(byId.value.items[0].id, 'c101');

  const deepPage = timed(() => listActors(index, { sort: 'user', offset: 90_000, limit: 100 })); // past top-k: a full sort
  assert.is(deepPage.value.items.length, 100);

  const inRoom = timed(() => listActors(index, { room: 'ten', limit: 20 }));
  assert.is(inRoom.value.total, N / 10);
  const oneUser = timed(() => listActors(index, { user: 'user777' }));
  assert.equal(oneUser.value.items.map((a) => a.id), ['c777']);

  const bytes = Buffer.byteLength(JSON.stringify(busiest.value));
  assert.ok(bytes < 20_000, `a page of 100 is small (${bytes} bytes)`);
  if (process.env.HUBBUB_PRINT_TIMINGS) {
    console.log(Object.fromEntries(Object.entries({ first, plain, busiest, deepest, byId, deepPage, inRoom, oneUser }).map(([k, t]) => [k, +t.ms.toFixed(1)])));
  }
});

Scale.run();
