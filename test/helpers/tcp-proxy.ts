// A TCP proxy for fault tests, standing where a load balancer would: each new
// connection goes to the next live backend in turn. It knows each connection's
// client by the `name=` of its WebSocket upgrade request, so a test can cut
// one client off (partition: its sockets die and its reconnects are refused
// for a while) or stop forwarding what the broker sends it (a client that
// does not read, without touching the client's code).
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Link {
  client: Socket;
  upstream: Socket;
  name: string | null;
}

export class TcpProxy {
  readonly #server: Server;
  #backends: number[];
  #next = 0;
  readonly #links = new Set<Link>();
  /** Names refused until the time given (ms since the epoch). */
  readonly #refused = new Map<string, number>();
  /** Names whose downstream (broker to client) is not forwarded. */
  readonly #stalled = new Set<string>();
  port = 0;

  private constructor(backends: number[]) {
    this.#backends = backends;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(backends: number[]): Promise<TcpProxy> {
    const proxy = new TcpProxy(backends);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.#server.address() as { port: number }).port;
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** The backends new connections go to (a dead node taken out, as a health check would). */
  setBackends(ports: number[]): void {
    this.#backends = ports;
  }

  /** Cuts `name` off for `ms`: its connections die now and new ones are refused until then. */
  partition(name: string, ms: number): void {
    this.#refused.set(name, Date.now() + ms);
    for (const l of this.#links) if (l.name === name) this.#drop(l);
  }

  /** Ends a partition early: `name` may connect again. */
  heal(name: string): void {
    this.#refused.delete(name);
  }

  /** Stops (or resumes) forwarding what the broker sends to `name`: it looks like a client that stopped reading. */
  stall(name: string, on: boolean): void {
    if (on) this.#stalled.add(name);
    else this.#stalled.delete(name);
    for (const l of this.#links) if (l.name === name) this.#flow(l, !on);
  }

  async close(): Promise<void> {
    for (const l of this.#links) this.#drop(l);
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #accept(client: Socket): void {
    client.once('data', (first: Buffer) => {
      const name = /[?&]name=([^&\s]+)/.exec(first.toString('latin1'))?.[1] ?? null;
      const until = name === null ? undefined : this.#refused.get(name);
      if (until !== undefined && until > Date.now()) {
        client.destroy();
        return;
      }
      const port = this.#backends[this.#next++ % this.#backends.length];
      const upstream = connect(port, '127.0.0.1');
      const link: Link = { client, upstream, name: name === null ? null : decodeURIComponent(name) };
      this.#links.add(link);
      upstream.write(first);
      client.pipe(upstream);
      this.#flow(link, link.name === null || !this.#stalled.has(link.name));
      const end = (): void => this.#drop(link);
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    client.on('error', () => client.destroy());
  }

  /** Forwards the broker's bytes to the client, or holds them in the kernel's buffers until they fill. */
  #flow(link: Link, on: boolean): void {
    if (on) link.upstream.pipe(link.client);
    else {
      link.upstream.unpipe(link.client);
      link.upstream.pause();
    }
  }

  #drop(link: Link): void {
    if (!this.#links.delete(link)) return;
    link.client.destroy();
    link.upstream.destroy();
  }
}
