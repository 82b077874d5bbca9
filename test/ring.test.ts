import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Mailbox } from '../src/actors/mailbox.js';
import { Ring } from '../src/actors/ring.js';

const ring = suite('Ring');

ring('allocates nothing until the first put', () => {
  const r = new Ring<number>(1024);
  assert.is(r.allocated, 0);
  r.put(1);
  assert.ok(r.allocated > 0 && r.allocated <= 4);
});

ring('is FIFO across wrap-around and growth', () => {
  const r = new Ring<number>(200);
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) assert.ok(r.put(next++));
    for (let i = 0; i < 5; i++) assert.is(r.take(), expect++);
  }
  while (r.size > 0) assert.is(r.take(), expect++);
  assert.is(expect, next);
  assert.is(r.take(), undefined);
});

ring('refuses and keeps nothing when full, unless forced', () => {
  const r = new Ring<string>(3);
  assert.ok(r.put('a') && r.put('b') && r.put('c'));
  assert.not.ok(r.put('d'));
  assert.is(r.size, 3);
  assert.ok(r.put('e', true));
  assert.equal([r.take(), r.take(), r.take(), r.take()], ['a', 'b', 'c', 'e']);
});

ring('clear drops the ring itself', () => {
  const r = new Ring<number>(10);
  r.put(1);
  r.clear();
  assert.is(r.size, 0);
  assert.is(r.allocated, 0);
  assert.equal([...r.peekAll()], []);
});

ring('an unbounded ring (capacity Infinity) keeps growing', () => {
  const r = new Ring<number>(Infinity);
  for (let i = 0; i < 10_000; i++) r.put(i);
  assert.is(r.size, 10_000);
  assert.is(r.take(), 0);
});

ring('rejects a capacity below 1 by name', () => {
  assert.throws(() => new Ring(0), /Ring: capacity/);
});

ring.run();

const mailbox = suite('Mailbox');

mailbox('has the default capacity of 1024', () => {
  assert.is(new Mailbox().capacity, 1024);
});

mailbox.run();
