import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConnectionActor } from '../src/actors/connection-actor.js';
import { produce } from 'immer';
import { trieGet, trieSet, trieValues } from '../src/actors/hash-trie.js';
import { addMember, addSession, emptyRegistry, removeMember, removeSession, type RegistryState } from '../src/actors/registry.js';

// The registry stores actors by reference and reads only `id` from them. A class
// instance, like a real actor, so immer neither drafts nor freezes it.
class FakeActor {
  constructor(readonly id: string) {}
}
const fake = (id: string) => new FakeActor(id) as unknown as ConnectionActor;

const test = suite('Registry');

test('join, leave and unregister keep sessions, users and rooms consistent', () => {
  let s: RegistryState = emptyRegistry();
  const a = fake('c1');
  const b = fake('c2');
  s = addSession(s, a, 'alice');
  s = addSession(s, b, 'bob');
  s = addMember(s, 'lobby', a).state;
  s = addMember(s, 'lobby', b).state;
  s = addMember(s, 'dev', a).state;
  assert.not.ok(addMember(s, 'lobby', a).added, 'joining twice adds nothing');
  assert.is(trieGet(s.rooms, 'lobby')!.members.size, 2);
  assert.equal(trieValues(trieGet(s.sessions, 'c1')!.rooms).sort(), ['dev', 'lobby']);

  const r = removeMember(s, 'dev', a);
  assert.ok(r.removed);
  s = r.state;
  assert.is(trieGet(s.rooms, 'dev'), undefined, 'an empty room is dropped');
  assert.not.ok(removeMember(s, 'dev', a).removed);

  const gone = removeSession(s, a);
  assert.equal(gone.left, ['lobby']);
  s = gone.state;
  assert.is(trieGet(s.users, 'alice'), undefined);
  assert.is(trieGet(s.sessions, 'c1'), undefined);
  assert.is(trieGet(s.rooms, 'lobby')!.members.size, 1);
});

test('a room keeps its mutable live part across membership changes', () => {
  let s = emptyRegistry();
  const a = fake('c1');
  s = addSession(s, a, 'alice');
  s = addMember(s, 'lobby', a).state;
  const live = trieGet(s.rooms, 'lobby')!.live;
  live.recovering = 2;
  s = addMember(s, 'lobby', fake('c2')).state;
  assert.is(trieGet(s.rooms, 'lobby')!.live, live, 'shared by reference, not copied');
  assert.is(live.recovering, 2);
});

/** Objects reachable from a value, not following actors (they are shared references). */
function reachable(root: unknown, into = new Set<object>()): Set<object> {
  if (root === null || typeof root !== 'object' || into.has(root)) return into;
  into.add(root);
  if (root instanceof FakeActor) return into;
  for (const v of Object.values(root)) reachable(v, into);
  return into;
}

test('a join copies O(1) of the state, whatever the room size', () => {
  const costs: number[] = [];
  for (const n of [1_000, 20_000, 100_000]) {
    // Built by direct mutation (fast), then frozen by one produce, as if n joins had happened.
    let s = addMember(emptyRegistry(), 'big', fake('c0')).state;
    s = produce(s, (d) => {
      // immer's Draft<T> cannot express actors (class instances); see registry.ts `change`.
      const members = trieGet((d as unknown as RegistryState).rooms, 'big')!.members;
      for (let i = 1; i < n; i++) trieSet(members, `c${i}`, fake(`c${i}`));
    });
    const newcomer = fake('new');
    s = addSession(s, newcomer, 'newcomer');
    const before = reachable(s);
    const after = addMember(s, 'big', newcomer).state;
    let slots = 0;
    for (const o of reachable(after)) if (!before.has(o)) slots += Object.keys(o).length;
    costs.push(slots);
  }
  // A registry held as one Map or object would copy n entries (DESIGN.md: 16 s for 16,000 joins).
  for (const c of costs) assert.ok(c < 800, `a join copied ${c} slots (${costs.join(', ')})`);
});

test.run();
