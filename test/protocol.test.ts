import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { frameBatch, frameText } from '../src/protocol/out-frame.js';
import { cleanUserName, completeEvent, encode, encodeError, messageHead, messageText, parseClientOp, textJoinOp, textSendOp, unsequencedEvent } from '../src/protocol/protocol.js';
import { MAX_TEXT_LENGTH } from '../src/protocol/limits.js';

const test = suite('protocol codec');

const fault = (text: string) => {
  const r = parseClientOp(text);
  assert.ok('fault' in r, `expected a fault for ${text}`);
  return r as { fault: string; message: string; ref?: unknown };
};

test('parses every op of the contract', () => {
  assert.equal(parseClientOp('{"op":"join","room":"lobby"}'), { op: 'join', room: 'lobby' });
  assert.equal(parseClientOp('{"op":"leave","room":"lobby","id":3}'), { op: 'leave', room: 'lobby', id: 3 });
  assert.equal(parseClientOp('{"op":"send","room":"lobby","text":"hi","id":"c1"}'), { op: 'send', room: 'lobby', text: 'hi', id: 'c1' });
  assert.equal(parseClientOp('{"op":"dm","to":"bob","text":"hi"}'), { op: 'dm', to: 'bob', text: 'hi' });
  assert.equal(parseClientOp('{"op":"who","room":"lobby"}'), { op: 'who', room: 'lobby' });
  assert.equal(parseClientOp('{"op":"ping","id":"p1"}'), { op: 'ping', id: 'p1' });
});

test('ignores unknown fields (the contract may be extended)', () => {
  assert.equal(parseClientOp('{"op":"join","room":"r","x":[1],"later":{"a":1}}'), { op: 'join', room: 'r' });
});

test('parses the history extensions: join with since, history with limit', () => {
  assert.equal(parseClientOp('{"op":"join","room":"r","since":12}'), { op: 'join', room: 'r', since: 12 });
  assert.equal(parseClientOp('{"op":"history","room":"r"}'), { op: 'history', room: 'r', limit: 50 });
  assert.equal(parseClientOp('{"op":"history","room":"r","limit":7,"id":1}'), { op: 'history', room: 'r', limit: 7, id: 1 });
  assert.is(fault('{"op":"join","room":"r","since":-1}').fault, 'bad_request');
  assert.is(fault('{"op":"join","room":"r","since":1.5}').fault, 'bad_request');
  assert.is(fault('{"op":"join","room":"r","since":"3"}').fault, 'bad_request');
  assert.is(fault('{"op":"history","room":"r","limit":0}').fault, 'bad_request');
  assert.is(fault('{"op":"history","room":"r","limit":1001}').fault, 'bad_request');
});

test('names each kind of bad input with a stable code, echoing the id as ref', () => {
  assert.is(fault('{').fault, 'bad_json');
  assert.is(fault('').fault, 'bad_json');
  assert.is(fault('[1,2]').fault, 'bad_request');
  assert.is(fault('null').fault, 'bad_request');
  assert.is(fault('"join"').fault, 'bad_request');
  assert.is(fault('{"room":"x"}').fault, 'bad_request');
  assert.equal(fault('{"op":"fly","id":"z"}'), { fault: 'unknown_op', message: 'unknown op "fly"', ref: 'z' });
  assert.equal(fault('{"op":"send","room":"r","id":"c9"}').ref, 'c9');
  assert.is(fault('{"op":"send","room":"r","text":5}').fault, 'bad_request');
  assert.is(fault('{"op":"join","room":""}').fault, 'bad_request');
  assert.is(fault(`{"op":"join","room":"${'r'.repeat(65)}"}`).fault, 'bad_request');
  assert.is(fault('{"op":"join","room":"a\\u0007b"}').fault, 'bad_request');
  assert.is(fault('{"op":"dm","text":"x"}').fault, 'bad_request');
  assert.is(fault('{"op":"ping","id":{"a":1}}').fault, 'bad_request');
  assert.is(fault(`{"op":"ping","id":"${'i'.repeat(65)}"}`).fault, 'bad_request');
  assert.is(fault('{"op":{"toString":1}}').fault, 'bad_request');
});

test('encodes events as JSON bytes, once', () => {
  const b = encode({ type: 'message', room: 'r', from: 'a', text: 'hi', ts: 1, seq: 2 });
  assert.is(b.payload.toString(), '{"type":"message","room":"r","from":"a","text":"hi","ts":1,"seq":2}');
  assert.is(b.wire, b.wire, 'framed once, then shared');
  assert.is(encodeError('not_in_room', 'no', 'c1').payload.toString(), '{"type":"error","code":"not_in_room","message":"no","ref":"c1"}');
  assert.is(encodeError('bad_json', 'no').payload.toString(), '{"type":"error","code":"bad_json","message":"no"}');
});

test('frames text unmasked with the 7-bit, 16-bit and 64-bit length forms (RFC 6455 5.2)', () => {
  for (const [len, head, marker] of [[0, 2, 0], [125, 2, 125], [126, 4, 126], [65535, 4, 126], [65536, 10, 127]] as const) {
    const wire = frameText(Buffer.alloc(len, 0x61));
    assert.is(wire.length, head + len);
    assert.is(wire[0], 0x81, 'FIN + text opcode');
    assert.is(wire[1], marker, 'no mask bit, length marker');
    if (head === 4) assert.is(wire.readUInt16BE(2), len);
    if (head === 10) assert.is(wire.readUInt32BE(6), len);
  }
});

test('a batch is one frame of newline-separated events', () => {
  const wire = frameBatch([encode({ type: 'pong' }), encode({ type: 'left', room: 'r' })]);
  assert.is(wire.subarray(2).toString(), '{"type":"pong"}\n{"type":"left","room":"r"}');
});

test('user names: 1-32 characters, trimmed, no control characters', () => {
  assert.is(cleanUserName('  alice '), 'alice');
  assert.is(cleanUserName(''), null);
  assert.is(cleanUserName(null), null);
  assert.is(cleanUserName('x'.repeat(33)), null);
  assert.is(cleanUserName('x'.repeat(32)), 'x'.repeat(32));
  assert.is(cleanUserName('a\nb'), null);
});

test('plain-text clients: a frame is a send to the room, checked as a JSON send is', () => {
  assert.equal(textSendOp('lobby', 'hi "there"\n'), { op: 'send', room: 'lobby', text: 'hi "there"\n' });
  const long = 'x'.repeat(MAX_TEXT_LENGTH + 1);
  assert.equal(textSendOp('lobby', long), parseClientOp(JSON.stringify({ op: 'send', room: 'lobby', text: long })));
  assert.equal(textJoinOp('lobby'), { op: 'join', room: 'lobby' });
  // A room a JSON join would refuse is refused alike.
  for (const room of ['', 'a\u0000b', 'x'.repeat(200)]) {
    assert.equal(textJoinOp(room), parseClientOp(JSON.stringify({ op: 'join', room })), room);
  }
});

test('plain-text clients read the text of message events and nothing else', () => {
  const head = messageHead('lobby', 'alice', 'a "quoted" line\nand more', 1700000000000);
  assert.is(messageText(completeEvent(head, 7)), 'a "quoted" line\nand more');
  assert.is(messageText(unsequencedEvent(head)), 'a "quoted" line\nand more');
  const fromServer = messageHead('lobby', 'api', 'hello', 1, { data: { text: 'not this one' } });
  assert.is(messageText(completeEvent(fromServer, 1)), 'hello');
  for (const other of [
    encode({ type: 'presence', room: 'lobby', user: 'bob', event: 'join' }),
    encode({ type: 'dm', from: 'a', to: 'b', text: 'private', ts: 1 }),
    encodeError('overloaded', 'message'),
    encode({ type: 'pong' }),
  ]) assert.is(messageText(other.payload), null);
});

test.run();
