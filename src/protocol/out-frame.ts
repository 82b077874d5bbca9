// OutFrame: one server event, encoded once and framed once.
//
// A broadcast to a room of 10,000 makes one OutFrame: the JSON payload, and,
// the first time a socket needs it, the complete WebSocket frame (RFC 6455
// header + payload). Server frames are unmasked, so those exact bytes are
// valid on every connection: each recipient's flush is a write of shared bytes,
// with no per-recipient JSON, framing or copying.

export class OutFrame {
  #wire: Buffer | null = null;

  constructor(readonly payload: Buffer) {}

  /** The full unmasked text frame, built on first use and then shared. */
  get wire(): Buffer {
    return (this.#wire ??= frameText(this.payload));
  }
}

/** An unmasked, final text frame carrying `payload` (RFC 6455 §5.2). */
export function frameText(payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + len);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (head === 2) {
    frame[1] = len;
  } else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(len / 0x100000000), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  payload.copy(frame, head);
  return frame;
}

const NEWLINE = Buffer.from('\n');

/** Several events in one text frame, one JSON object per line (batch mode). */
export function frameBatch(frames: readonly OutFrame[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < frames.length; i++) {
    if (i > 0) parts.push(NEWLINE);
    parts.push(frames[i].payload);
  }
  return frameText(Buffer.concat(parts));
}
