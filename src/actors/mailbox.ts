// Mailbox: the bounded FIFO of messages waiting for one actor. A Ring with the
// default capacity; only the scheduler's turn loop takes from it.
import { MAILBOX_CAPACITY } from '../constants.js';
import { Ring } from './ring.js';

export class Mailbox<M> extends Ring<M> {
  constructor(capacity: number = MAILBOX_CAPACITY) {
    super(capacity);
  }
}
