// Fault isolation under load, with fault injection: 1% of connection actors'
// handler calls throw (Scheduler faultRate). Each throw stops that actor alone
// (its client is closed 1011); every other client still receives every message
// of its rooms, in seq order, with no gap. The faults are drawn from a seeded
// generator: a failure prints its seed, and HUBBUB_FAULT_SEED replays it.
//
// "Every other client" is precise here: a client is a survivor if it was never
// closed. A client killed mid-stream loses what it had sent and not yet seen
// acknowledged (frames still in its mailbox die with it; that is the contract:
// only an ack promises delivery), but whatever the broker did publish from it,
// acked or not, reaches every survivor, because publication is the supervisor's
// and survivors' streams are checked against the room's full sequence.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, waitForNoSessions } from './helpers/broker.js';
import { TestClient, closeAll, type Frame } from './helpers/client.js';
import { faultSeed, seeded, withSeed } from './helpers/seeded.js';
import { withTimeout } from './helpers/wait.js';

const CLIENTS = 120;
const ROOMS = 4;
const SENDS = 25;
const FAULT_RATE = 0.01;
/** Which handler calls throw is drawn from this seed (printed on failure; HUBBUB_FAULT_SEED replays it). */
const SEED = faultSeed();

const roomsOf = (i: number): string[] => [`r${i % ROOMS}`, `r${(i + 1) % ROOMS}`];

const Faults = suite('fault injection');

Faults(`${FAULT_RATE * 100}% of handler calls throw under load: survivors get every message of their rooms in order`, () => withSeed('fault injection', SEED, async () => {
  const tb = await startBroker({ faultRate: FAULT_RATE, faultRandom: seeded(SEED), rateLimit: 0 });
  const all: (TestClient | null)[] = [];
  try {
    // Connect and join; a fault may strike here already (the client is then simply one of the killed).
    const joined = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
      let c: TestClient;
      try {
        c = await TestClient.connect(tb.wsUrl, `u${i}`);
      } catch {
        return null; // killed before its welcome
      }
      all[i] = c;
      try {
        for (const room of roomsOf(i)) c.send({ op: 'join', room });
        for (const room of roomsOf(i)) await c.nextOf('joined', { room });
        return c;
      } catch {
        return null; // killed while joining
      }
    }));
    // Every join is in before the first message: each survivor must see every room from seq 1.
    const senders = joined.map((c, i) => (c === null ? null : { c, i })).filter((x) => x !== null);
    for (const { c, i } of senders) {
      for (let k = 0; k < SENDS; k++) {
        const room = roomsOf(i)[k % 2];
        c.send({ op: 'send', room, text: `u${i}#${k}`, id: `${i}:${k}` });
      }
    }
    // Each sender ends one way or the other: all its acks, or killed (1011).
    await withTimeout(Promise.all(senders.map(async ({ c, i }) => {
      const killed = c.closed(30_000);
      const acked = (async () => {
        for (let k = 0; k < SENDS; k++) await c.nextOf('ack', { id: `${i}:${k}` }, 30_000);
      })();
      await Promise.race([killed, acked.catch(() => killed)]);
    })), 40_000, 'every sender to be acked or killed');
    // A barrier (a round trip through the supervisor) per live client: after it, everything published is in.
    const survivors: { c: TestClient; i: number }[] = [];
    await Promise.all(senders.map(async (s) => {
      if (s.c.ws.readyState !== s.c.ws.OPEN) return;
      try {
        await s.c.barrier(10_000);
        survivors.push(s);
      } catch {
        // killed by a fault on the barrier itself
      }
    }));

    const stats = tb.broker.scheduler.stats();
    const killed = (await Promise.all(all.map((c) => (c === undefined || c === null || c.ws.readyState === c.ws.OPEN ? null : c.closed(5000)))))
      .filter((x) => x != null); // holes: clients killed before their welcome
    assert.ok(stats.faultsInjected > 0, 'faults were injected');
    assert.ok(killed.length > 0, 'some clients were killed');
    for (const k of killed) assert.is(k.code, 1011, `a killed client is closed 1011 (${k.reason})`);
    assert.ok(survivors.length >= CLIENTS / 2, `most clients survive (${survivors.length} of ${CLIENTS})`);

    // The room's full sequence: every seq any client saw or was acked.
    const last = new Map<string, number>();
    const published = new Map<string, Map<number, string>>(); // room -> seq -> text
    const note = (room: string, seq: number, text: string | null): void => {
      last.set(room, Math.max(last.get(room) ?? 0, seq));
      if (text !== null) {
        const m = published.get(room) ?? new Map<number, string>();
        const had = m.get(seq);
        assert.ok(had === undefined || had === text, `seq ${seq} of ${room} is one message, not two (${had} / ${text})`);
        m.set(seq, text);
        published.set(room, m);
      }
    };
    for (const c of all) {
      if (c === undefined || c === null) continue;
      for (const f of c.received) {
        if (f.type === 'message') note(f.room as string, f.seq as number, f.text as string);
        if (f.type === 'ack' && typeof f.seq === 'number') {
          const [i, k] = String(f.id).split(':').map(Number);
          note(roomsOf(i)[k % 2], f.seq, `u${i}#${k}`);
        }
      }
    }
    let checked = 0;
    for (const { c, i } of survivors) {
      for (const room of roomsOf(i)) {
        const seqs = c.received.filter((f: Frame) => f.type === 'message' && f.room === room).map((f) => f.seq as number);
        const want = Array.from({ length: last.get(room) ?? 0 }, (_, n) => n + 1);
        assert.equal(seqs, want, `${c.user} got every message of ${room} in seq order, no gap`);
        const texts = published.get(room)!;
        for (const f of c.received) if (f.type === 'message' && f.room === room) assert.is(f.text, texts.get(f.seq as number));
        checked += seqs.length;
      }
    }
    const sends = senders.length * SENDS;
    assert.ok(checked > survivors.length * 2 * (sends / ROOMS) * 0.5, `survivors saw the bulk of the traffic (${checked} deliveries checked)`);
    console.log(`  fault injection: ${stats.faultsInjected} faults, ${killed.length} killed, ${survivors.length} survivors, ${checked} deliveries checked in order`);
  } finally {
    await closeAll(all.filter((c): c is TestClient => c !== undefined && c !== null));
    await waitForNoSessions(tb.broker, 10_000);
    assert.is(tb.broker.scheduler.liveActors, 1, 'only the supervisor is left');
    await tb.broker.close();
  }
}));

Faults.run();
