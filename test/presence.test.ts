// Presence's coalescing on its own: a fake host records what would go to a
// room, and the test plays the scheduler's slice ends. Rooms here are under
// 40 members, so their window is one slice and nothing waits on a timer.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConnectionActor } from '../src/actors/connection-actor.js';
import { emptyTrie, trieSet } from '../src/actors/hash-trie.js';
import { Presence, type PresenceHost } from '../src/actors/presence.js';
import { RoomLive, type Room } from '../src/actors/registry.js';

interface Sent {
  room: string;
  event: Record<string, unknown>;
  except: string | null;
}

function world(size: number, options: { presenceChargeMembers?: number } = {}) {
  const members = emptyTrie<ConnectionActor>();
  for (let i = 0; i < size; i++) trieSet(members, `c${i}`, { id: `c${i}`, user: `u${i}` } as unknown as ConnectionActor);
  const room: Room = { name: 'den', key: 'den', members, departures: 0, live: new RoomLive() };
  const sent: Sent[] = [];
  const host: PresenceHost = {
    room: (name) => (name === room.name ? room : undefined),
    count: (r) => r.members.size,
    deliverAll: (r, frame, except) => sent.push({ room: r.name, event: JSON.parse(frame.payload.toString()), except: except?.user ?? null }),
    requestFlush: () => {},
  };
  const presence = new Presence(host, { bigRoomThreshold: 1000, ...options });
  const actor = (user: string) => ({ id: `x-${user}`, user }) as unknown as ConnectionActor;
  return { room, sent, presence, actor };
}

const P = suite('presence coalescing');

P('one change in a slice: the single form at the slice end, not to the joiner', () => {
  const { room, sent, presence, actor } = world(5);
  presence.tell(room, 'bob', 'join', actor('bob'));
  assert.equal(sent, [], 'nothing before the slice ends');
  presence.sliceEnded();
  assert.equal(sent, [{ room: 'den', event: { type: 'presence', room: 'den', user: 'bob', event: 'join' }, except: 'bob' }]);
  presence.sliceEnded();
  assert.is(sent.length, 1, 'told once');
});

P('a join and a leave of one user in a slice cancel: nothing is told', () => {
  const { room, sent, presence, actor } = world(5);
  for (let i = 0; i < 50; i++) {
    presence.tell(room, 'flap', 'join', actor('flap'));
    presence.tell(room, 'flap', 'leave', null);
  }
  presence.sliceEnded();
  assert.equal(sent, []);
  presence.tell(room, 'flap', 'join', actor('flap'));
  presence.sliceEnded();
  assert.is(sent.length, 1, 'the next change is told at once');
});

P('several changes in a slice: one batch with the net joins and leaves and the count', () => {
  const { room, sent, presence, actor } = world(5);
  presence.tell(room, 'ann', 'join', actor('ann'));
  presence.tell(room, 'bo', 'join', actor('bo'));
  presence.tell(room, 'cy', 'leave', null);
  presence.tell(room, 'bo', 'leave', null);
  presence.tell(room, 'dee', 'join', actor('dee'));
  presence.sliceEnded();
  assert.equal(sent, [{ room: 'den', event: { type: 'presence', room: 'den', event: 'batch', joined: ['ann', 'dee'], left: ['cy'], count: 5 }, except: null }]);
});

P('settle: a message to the room takes its due presence out first', () => {
  const { room, sent, presence, actor } = world(5);
  presence.tell(room, 'bob', 'join', actor('bob'));
  presence.settle(room);
  assert.is(sent.length, 1);
  presence.sliceEnded();
  assert.is(sent.length, 1, 'not told twice');
});

P('cost: one token per 50 members, at most the big-room threshold worth; 0 turns it off', () => {
  assert.is(world(400).presence.cost(world(400).room), 8);
  assert.is(world(30).presence.cost(world(30).room), 0);
  const big = world(3000);
  assert.is(big.presence.cost(big.room), 20);
  assert.is(world(400, { presenceChargeMembers: 0 }).presence.cost(world(400).room), 0);
  assert.is(world(400).presence.cost(undefined), 0, 'a room that is gone');
});

P.run();
