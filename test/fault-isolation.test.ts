// Fault isolation: a throw inside one connection's actor, or inside the
// supervisor while it handles one client's op, stops that client alone (1011);
// the room is told it left and goes on chatting.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SupervisorMsg } from '../src/actors/supervisor-messages.js';
import { startBroker, waitForNoSessions, type TestBroker } from './helpers/broker.js';
import { closeAll, connectAll, type TestClient } from './helpers/client.js';

interface Ctx {
  tb: TestBroker;
  victim: TestClient;
  bob: TestClient;
  carol: TestClient;
}

const ROOM = 'ward';
const Faults = suite<Ctx>('fault isolation', {} as Ctx);

Faults.before(async (ctx) => {
  ctx.tb = await startBroker();
});
Faults.before.each(async (ctx) => {
  [ctx.victim, ctx.bob, ctx.carol] = await connectAll(ctx.tb.wsUrl, ['victim', 'bob', 'carol']);
  for (const c of [ctx.victim, ctx.bob, ctx.carol]) {
    c.send({ op: 'join', room: ROOM });
    await c.nextOf('joined', { room: ROOM });
  }
});
Faults.after.each(async (ctx) => {
  await closeAll([ctx.victim, ctx.bob, ctx.carol]);
  await waitForNoSessions(ctx.tb.broker);
});
Faults.after(async (ctx) => {
  await ctx.tb.broker.close();
});

/** The victim is closed with 1011, gone from the registry, and the room keeps chatting. */
async function victimAloneStopped(ctx: Ctx, marker: string): Promise<void> {
  const closed = await ctx.victim.closed();
  assert.is(closed.code, 1011);
  assert.ok(closed.reason.length > 0, 'the close says why');
  await Promise.all([ctx.bob, ctx.carol].map((c) => c.nextOf('presence', { room: ROOM, user: 'victim', event: 'leave' })));
  // The leave is sent while unregistering, so the registry is already without the victim.
  const sup = ctx.tb.broker.supervisor;
  assert.is(sup.findUser('victim'), undefined, 'the supervisor no longer lists the victim');
  assert.is(sup.room(ROOM)?.members.size, 2);
  ctx.bob.send({ op: 'who', room: ROOM });
  assert.equal(((await ctx.bob.nextOf('who', { room: ROOM })).users as string[]).sort(), ['bob', 'carol']);
  ctx.carol.send({ op: 'send', room: ROOM, text: `after ${marker}`, id: marker });
  await ctx.carol.nextOf('ack', { id: marker });
  await ctx.bob.nextOf('message', { room: ROOM, text: `after ${marker}`, from: 'carol' });
  assert.equal(ctx.bob.received.filter((f) => f.type === 'message' && f.from === 'victim'), [], 'the faulty op was not delivered');
}

Faults('a throw in one connection actor closes that client with 1011 alone', async (ctx) => {
  const actor = ctx.tb.broker.supervisor.findUser('victim');
  assert.ok(actor, 'the victim is registered');
  const failuresBefore = ctx.tb.broker.scheduler.stats().failures;
  actor.handle = () => {
    throw new Error('injected connection fault');
  };
  ctx.victim.send({ op: 'send', room: ROOM, text: 'boom' });
  await victimAloneStopped(ctx, 'actor-fault');
  assert.is(ctx.tb.broker.scheduler.stats().failures, failuresBefore + 1);
  assert.ok(actor.dead, 'the failed actor is dead');
});

Faults('a throw in the supervisor while handling one client\'s op stops that client alone', async (ctx) => {
  const sup = ctx.tb.broker.supervisor;
  const original = sup.handle;
  let injected = 0;
  // Throws inside the supervisor's own boundary (reading the op), as a bug in an op handler would.
  sup.handle = function (this: typeof sup, msg: SupervisorMsg): void {
    if (msg.type === 'op' && msg.from.user === 'victim') {
      injected++;
      const from = msg.from;
      const poisoned = {
        type: 'op' as const,
        from,
        get op(): never {
          throw new Error('injected supervisor fault');
        },
      };
      return original.call(this, poisoned);
    }
    return original.call(this, msg);
  };
  try {
    ctx.victim.send({ op: 'send', room: ROOM, text: 'boom' });
    await victimAloneStopped(ctx, 'supervisor-fault');
    assert.is(injected, 1);
    assert.is(sup.dead, false, 'the supervisor survives');
  } finally {
    sup.handle = original;
  }
  // The supervisor still serves new clients after the fault.
  const [late] = await connectAll(ctx.tb.wsUrl, ['late']);
  late.send({ op: 'join', room: ROOM });
  assert.is((await late.nextOf('joined', { room: ROOM })).count, 3);
  await late.close();
});

Faults('a client that failed can reconnect under its old name', async (ctx) => {
  const actor = ctx.tb.broker.supervisor.findUser('victim')!;
  actor.handle = () => {
    throw new Error('injected connection fault');
  };
  ctx.victim.send({ op: 'ping' });
  assert.is((await ctx.victim.closed()).code, 1011);
  await ctx.bob.nextOf('presence', { room: ROOM, user: 'victim', event: 'leave' });
  const [again] = await connectAll(ctx.tb.wsUrl, ['victim']);
  assert.is(again.user, 'victim', 'the name was released');
  await again.close();
});

Faults.run();
