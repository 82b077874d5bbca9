// The outbox memo: the last multi-frame write built, kept for the next socket
// with the same frames.
//
// A fan-out leaves every member of a room with the same outbox (the same
// OutFrames in the same order), so a room's write is built once per flush, not
// once per member. The gateway drops it after each flush (releaseWriteMemo),
// so a copy never outlives the flush it was built for.
import { frameBatch, type OutFrame } from '../protocol/out-frame.js';

let memoFrames: readonly OutFrame[] | null = null;
let memoBatch = false;
/** The memo's answer: one buffer, or null when a frame is written in pieces (a history page: joined, it would be copied). */
let memoWire: Buffer | null = null;

/** Drops the shared write of the last flush (ChatGateway, after every flush). */
export function releaseWriteMemo(): void {
  memoFrames = null;
  memoWire = null;
}

/**
 * Several frames as one buffer: one text frame of lines in batch mode, else
 * the frames back to back; null (outside batch mode) when one of them is
 * written in pieces, which the caller then writes frame by frame.
 */
export function multiWire(out: readonly OutFrame[], batch: boolean): Buffer | null {
  if (memoFrames !== null && memoBatch === batch && sameFrames(memoFrames, out)) return memoWire;
  const wire = batch ? frameBatch(out) : hasParts(out) ? null : concatWires(out);
  memoFrames = out;
  memoBatch = batch;
  memoWire = wire;
  return wire;
}

function hasParts(frames: readonly OutFrame[]): boolean {
  for (let i = 0; i < frames.length; i++) if (frames[i].parts !== null) return true;
  return false;
}

function sameFrames(a: readonly OutFrame[], b: readonly OutFrame[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The frames' wire bytes, back to back in one buffer. */
function concatWires(frames: readonly OutFrame[]): Buffer {
  let len = 0;
  for (let i = 0; i < frames.length; i++) len += frames[i].wire.length;
  const buf = Buffer.allocUnsafe(len);
  let at = 0;
  for (let i = 0; i < frames.length; i++) at += frames[i].wire.copy(buf, at);
  return buf;
}
