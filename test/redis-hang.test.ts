// A Redis that hangs without closing its socket (here: SIGSTOP) must not
// stall publishes: a command unanswered for the timeout fails, the sender gets
// an answer (`unavailable`: it may or may not be stored), the node drops the
// link and serves local rooms, and when Redis wakes (SIGCONT) it reconnects
// and sequences again. A bystander on another node's room keeps chatting.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker } from './helpers/broker.js';
import { TestClient, type Frame } from './helpers/client.js';
import { redisBackplane, RedisServer } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const Hang = suite('a hanging Redis');
const COMMAND_TIMEOUT_MS = 500;

Hang('a frozen Redis does not hang a sender: answered once the command times out; the node goes local, then back', async () => {
  const redis = await RedisServer.start();
  const tb = await startBroker({ backplane: redisBackplane(redis.url, { commandTimeoutMs: COMMAND_TIMEOUT_MS }) });
  const ann = await TestClient.connect(tb.wsUrl, 'ann');
  try {
    ann.send({ op: 'join', room: 'r', id: 'j' });
    await ann.nextOf('joined', { room: 'r' });
    ann.send({ op: 'send', room: 'r', text: 'before', id: 's0' });
    assert.is((await ann.nextOf('ack', { id: 's0' })).seq, 1);

    redis.freeze(true);
    const started = Date.now();
    ann.send({ op: 'send', room: 'r', text: 'during', id: 's1' });
    // Without a timeout nothing ever answers this send; with it, an error or a local ack once the
    // command timed out. The wait guards that hang only: a loaded machine stretches the wall time.
    const answer = await ann.next((f: Frame) => f.ref === 's1' || f.id === 's1', 30_000, 'an answer to the send while Redis hangs');
    const waited = Date.now() - started;
    assert.ok(answer.type === 'error' ? answer.code === 'unavailable' : answer.stored === false, JSON.stringify(answer));
    await waitFor(() => !tb.broker.supervisor.backplaneUp, 5000, 'the node to treat the link as down');
    ann.send({ op: 'send', room: 'r', text: 'local', id: 's2' });
    assert.is((await ann.nextOf('ack', { id: 's2' }, 1000)).stored, false, 'while Redis hangs, sends are local and answered at once');

    redis.freeze(false);
    await waitFor(() => tb.broker.supervisor.backplaneUp, 10_000, 'the node to reconnect once Redis wakes');
    ann.send({ op: 'send', room: 'r', text: 'after', id: 's3' });
    const after = await ann.nextOf('ack', { id: 's3' }, 5000);
    assert.type(after.seq, 'number', 'sequenced again');
    // Answered by the command timeout, so not before it (a lower bound, which load cannot break; timers may fire a ms early).
    assert.ok(waited >= COMMAND_TIMEOUT_MS - 10, `the hung send was answered after ${waited} ms, before the ${COMMAND_TIMEOUT_MS} ms timeout`);
  } finally {
    redis.freeze(false);
    await ann.close().catch(() => {});
    await tb.broker.close();
    await redis.dispose();
  }
});

Hang.run();
