// Slow consumers: how much of a connection's output is still unread.
//
// Unread output is bounded in bytes (this slice's outbox plus what the TCP
// socket has not taken yet: the socket checks it on every delivery) and in
// frames (checked after every flush, here). Frames are shared by all
// recipients, so a stalled peer's own cost is mostly per frame (a
// stream-buffer entry, ~85 B), which the frame bound caps. Past either bound
// the connection is closed with 1013 and gets nothing more.
//
// The frame count is an estimate, O(1) per flush with no per-write callback:
// the frames written since the socket's user-space write buffer was last
// empty, scaled by the share of their bytes it still holds (the kernel takes
// bytes from the front).

/** The estimate's state, kept on the socket itself (no second object per connection). */
export interface HeldOutput {
  /** Estimated frames held in the socket's user-space write buffer. */
  heldFrames: number;
  /** The bytes those frames were written with. */
  heldBytes: number;
}

/**
 * Updates `held` after a write of `frames` frames (`bytes` bytes), with
 * `pending` bytes now in the socket's buffer; returns the frames held.
 */
export function countHeld(held: HeldOutput, pending: number, frames: number, bytes: number): number {
  if (pending === 0) {
    // The kernel took it all (the usual case for a peer that reads): nothing is held here.
    held.heldFrames = 0;
    held.heldBytes = 0;
    return 0;
  }
  const heldFrames = held.heldFrames + frames;
  const heldBytes = held.heldBytes + bytes;
  // ws's own pings and close frames are in `pending` too, so the share may pass 1.
  const share = pending >= heldBytes ? 1 : pending / heldBytes;
  held.heldFrames = heldFrames * share;
  held.heldBytes = heldBytes * share;
  return held.heldFrames;
}
