// The history-filling attack: one client joins a room, sends it messages as
// big as the text limit allows, leaves, and goes on to the next room. Bounded
// in rooms, messages and time.
import type { TestClient } from './client.js';

/** 16,000 three-byte characters: under the 16,384-character text limit, ~48 KB stored. */
export const BIG_TEXT = '語'.repeat(16_000);
export const BIG_TEXT_BYTES = BIG_TEXT.length * 3;

export interface FloodResult {
  /** Rooms filled, named `flood-0` ... */
  rooms: number;
  sentBytes: number;
}

export async function floodRooms(attacker: TestClient, options: { rooms: number; perRoom: number; timeMs: number }): Promise<FloodResult> {
  const started = performance.now();
  let sentBytes = 0;
  let rooms = 0;
  const window = 8;
  for (let r = 0; r < options.rooms && performance.now() - started < options.timeMs; r++) {
    const room = `flood-${r}`;
    attacker.send({ op: 'join', room, id: `j${r}` });
    await attacker.nextOf('joined', { room });
    const n = options.perRoom;
    for (let i = 0; i < n; i++) {
      attacker.send({ op: 'send', room, text: BIG_TEXT, id: `${r}-${i}` });
      sentBytes += BIG_TEXT_BYTES;
      if (i >= window) await attacker.nextOf('ack', { id: `${r}-${i - window}` }, 30_000);
    }
    for (let i = Math.max(0, n - window); i < n; i++) await attacker.nextOf('ack', { id: `${r}-${i}` }, 30_000);
    attacker.send({ op: 'leave', room, id: `l${r}` });
    await attacker.nextOf('left', { room });
    attacker.received.length = 0; // the test client keeps every frame; its own echoes are not the broker's memory
    rooms++;
  }
  return { rooms, sentBytes };
}
