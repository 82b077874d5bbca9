// IpLimit: a cap on open connections per remote IP address.
//
// A slot is taken before the handshake (so a burst of concurrent upgrades, some
// still waiting on token verification, cannot overshoot the cap) and given back
// when the TCP socket closes, whatever the way: refused, failed handshake,
// normal close, reset. Off (0) by default: loopback tests open 10k connections
// from 127.0.0.1. The address is the TCP peer's; behind a reverse proxy every
// client shares the proxy's, so set the cap there instead.
import type { Duplex } from 'node:stream';

export class IpLimit {
  readonly #open = new Map<string, number>();
  /** Upgrades refused over the limit's life. */
  refused = 0;

  constructor(readonly max: number) {}

  /** Takes a slot for `ip` until `socket` closes; false (and nothing taken) at the cap. */
  acquire(ip: string, socket: Duplex): boolean {
    if (this.max <= 0) return true;
    const n = this.#open.get(ip) ?? 0;
    if (n >= this.max) {
      this.refused++;
      return false;
    }
    this.#open.set(ip, n + 1);
    socket.once('close', () => this.#release(ip));
    return true;
  }

  /** Open connections from `ip` (for tests and inspection). */
  count(ip: string): number {
    return this.#open.get(ip) ?? 0;
  }

  /** Addresses with at least one open connection. */
  get addresses(): number {
    return this.#open.size;
  }

  #release(ip: string): void {
    const n = (this.#open.get(ip) ?? 1) - 1;
    if (n <= 0) this.#open.delete(ip);
    else this.#open.set(ip, n);
  }
}

/** "::ffff:127.0.0.1" (IPv4 on a dual-stack socket) counts as "127.0.0.1". */
export function clientIp(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
