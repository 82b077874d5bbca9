// One user name, however it is spelled: `Alice`, `ALICE`, a fullwidth
// `ａｌｉｃｅ`, a Cyrillic `аlice`, a decomposed `alicé` are all taken while
// alice (or alicé) is online, on one node and across nodes; a DM finds her
// under any of them.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker } from './helpers/broker.js';
import { TestClient } from './helpers/client.js';
import { redisBackplane, RedisServer } from './helpers/redis.js';

const Names = suite('canonical user names');

Names('look-alikes of an online name get a generated name; a DM to any spelling reaches her', async () => {
  const tb = await startBroker();
  try {
    const alice = await TestClient.connect(tb.wsUrl, 'alice');
    const zoe = await TestClient.connect(tb.wsUrl, 'alicé'); // precomposed é: another name than alice
    assert.is(zoe.user, 'alicé');
    for (const spelling of ['Alice', 'ALICE', 'ａｌｉｃｅ', '\u0430lice', 'alice', 'ali\u0063e']) {
      const c = await TestClient.connect(tb.wsUrl, spelling);
      assert.is.not(c.user, spelling, `${JSON.stringify(spelling)} is alice's name`);
      assert.match(c.user, /-[0-9a-f]{4}$/, 'it gets the generated alternative');
      await c.close();
    }
    const decomposed = await TestClient.connect(tb.wsUrl, 'alic\u0065\u0301');
    assert.is.not(decomposed.user, 'alic\u0065\u0301', 'a decomposed é is the precomposed one');
    await decomposed.close();
    const bob = await TestClient.connect(tb.wsUrl, 'bob');
    bob.send({ op: 'dm', to: 'ALICE', text: 'found you', id: 'd' });
    await bob.nextOf('ack', { id: 'd' });
    assert.is((await alice.nextOf('dm')).text, 'found you');
    await Promise.all([alice.close(), zoe.close(), bob.close()]);
  } finally {
    await tb.broker.close();
  }
});

Names('across nodes: a look-alike of a name held on another node is taken too', async () => {
  const redis = await RedisServer.start();
  const a = await startBroker({ backplane: redisBackplane(redis.url) });
  const b = await startBroker({ backplane: redisBackplane(redis.url) });
  try {
    const alice = await TestClient.connect(a.wsUrl, 'alice');
    const mallory = await TestClient.connect(b.wsUrl, 'ALICE');
    assert.is.not(mallory.user, 'ALICE');
    mallory.send({ op: 'dm', to: 'Alice', text: 'across', id: 'd' });
    await mallory.nextOf('ack', { id: 'd' });
    assert.is((await alice.nextOf('dm')).text, 'across');
    await Promise.all([alice.close(), mallory.close()]);
  } finally {
    await a.broker.close();
    await b.broker.close();
    await redis.dispose();
  }
});

Names.run();
