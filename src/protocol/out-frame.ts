// OutFrame: one server event, encoded once and framed once.
//
// A broadcast to a room of 10,000 makes one OutFrame: the JSON payload, and,
// the first time a socket needs it, the complete WebSocket frame (RFC 6455
// header + payload). Server frames are unmasked, so those exact bytes are
// valid on every connection: each recipient's flush is a write of shared bytes,
// with no per-recipient JSON, framing or copying.

export class OutFrame {
  #wire: Buffer | null = null;
  #payload: Buffer | null;
  /** An ofParts frame's pieces, the frame's header first: written as they are, joined only when asked. */
  #parts: readonly Buffer[] | null = null;
  #length: number;

  constructor(payload: Buffer) {
    this.#payload = payload;
    this.#length = payload.length;
  }

  /**
   * An event made of byte pieces (a history page: stored events between a head
   * and a tail), never copied on its way out: the socket writes the pieces
   * (writeFrame). Joining a megabyte page into a new buffer cost 2-5 ms of the
   * event loop here (fresh memory's page faults; measured under the bench's
   * history flood), and decoding it to a string and back, before that, ~13 ms.
   */
  static ofParts(parts: readonly Buffer[]): OutFrame {
    let len = 0;
    for (const p of parts) len += p.length;
    const header = Buffer.allocUnsafe(headerLength(len));
    writeHeader(header, len);
    const out = new OutFrame(EMPTY);
    out.#payload = null;
    out.#length = len;
    out.#parts = [header, ...parts];
    return out;
  }

  /** A stored event (a replay's message): a big one is written from the stored bytes, never copied into a frame. */
  static ofStored(payload: Buffer): OutFrame {
    return payload.length >= PIECES_FROM_BYTES ? OutFrame.ofParts([payload]) : new OutFrame(payload);
  }

  /** The payload's size in bytes. */
  get length(): number {
    return this.#length;
  }

  /** The JSON event; an ofParts frame's is joined on first use (batch mode, text sockets). */
  get payload(): Buffer {
    if (this.#payload === null) {
      const parts = this.#parts!;
      this.#payload = parts.length === 2 ? parts[1] : Buffer.concat(parts.slice(1), this.#length);
    }
    return this.#payload;
  }

  /** The pieces to write for this frame, or null when it is one buffer (wire). */
  get parts(): readonly Buffer[] | null {
    return this.#parts;
  }

  /** The full unmasked text frame, built on first use and then shared. */
  get wire(): Buffer {
    if (this.#wire === null) this.#wire = this.#parts === null ? frameText(this.#payload!) : Buffer.concat(this.#parts);
    return this.#wire;
  }

  /** The frame's size on the wire. */
  get wireLength(): number {
    return headerLength(this.#length) + this.#length;
  }
}

const EMPTY = Buffer.alloc(0);

/** From this size a stored payload is written as header + payload (two iovecs) rather than copied behind its header. */
const PIECES_FROM_BYTES = 16 * 1024;

/**
 * Writes one frame to a socket: its wire buffer, or an ofParts frame's pieces
 * corked into one writev. Returns the bytes written.
 */
export function writeFrame(raw: { write(chunk: Buffer): boolean; cork(): void; uncork(): void }, frame: OutFrame): number {
  const parts = frame.parts;
  if (parts === null) {
    const wire = frame.wire;
    raw.write(wire);
    return wire.length;
  }
  raw.cork();
  for (let i = 0; i < parts.length; i++) raw.write(parts[i]);
  raw.uncork();
  return frame.wireLength;
}

/** An unmasked, final text frame carrying `payload` (RFC 6455 §5.2). */
export function frameText(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(headerLength(payload.length) + payload.length);
  payload.copy(frame, writeHeader(frame, payload.length));
  return frame;
}

function headerLength(len: number): number {
  return len < 126 ? 2 : len < 0x10000 ? 4 : 10;
}

/** Writes a final text frame's header for a payload of `len` bytes; returns where the payload starts. */
function writeHeader(frame: Buffer, len: number): number {
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (len < 126) {
    frame[1] = len;
    return 2;
  }
  if (len < 0x10000) {
    frame[1] = 126;
    frame.writeUInt16BE(len, 2);
    return 4;
  }
  frame[1] = 127;
  frame.writeUInt32BE(Math.floor(len / 0x100000000), 2);
  frame.writeUInt32BE(len >>> 0, 6);
  return 10;
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
