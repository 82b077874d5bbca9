// Many plain WebSocket clients from this process, for leak and load tests:
// each connects, waits for its welcome, joins one room and waits for `joined`.
// Nothing is kept per frame. Spread over several loopback source addresses
// so 10k connections do not crowd one address's ephemeral ports.
import WebSocket from 'ws';
import { withTimeout } from './wait.js';

export const SOURCE_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];

/** One client in `room`; resolves once joined. */
export function joinOne(wsUrl: string, name: string, room: string, localAddress?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsUrl}?name=${encodeURIComponent(name)}`, { perMessageDeflate: false, localAddress });
    let joined = false;
    const onMessage = (data: WebSocket.RawData): void => {
      const type = (JSON.parse(String(data)) as { type: string }).type;
      if (type === 'welcome') ws.send(JSON.stringify({ op: 'join', room }));
      else if (type === 'joined') {
        joined = true;
        ws.off('message', onMessage); // what comes next (presence) is read and dropped
        resolve(ws);
      }
    };
    ws.on('message', onMessage);
    ws.on('error', (err) => {
      if (!joined) reject(err);
    });
    ws.on('close', () => {
      if (!joined) reject(new Error(`${name} closed before it joined`));
    });
  });
}

/**
 * Opens `n` clients (`name(i)` in `room(i)`), at most `concurrency` handshakes
 * in flight; fails if it takes longer than `timeoutMs`.
 */
export async function joinMany(
  wsUrl: string, n: number, name: (i: number) => string, room: (i: number) => string,
  options: { concurrency?: number; timeoutMs?: number } = {},
): Promise<WebSocket[]> {
  const out: WebSocket[] = new Array(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await joinOne(wsUrl, name(i), room(i), SOURCE_ADDRESSES[i % SOURCE_ADDRESSES.length]);
    }
  };
  const workers = Array.from({ length: Math.min(options.concurrency ?? 50, n) }, worker);
  await withTimeout(Promise.all(workers), options.timeoutMs ?? 60_000, `${n} clients to connect and join`);
  return out;
}

/** The TCP socket under a ws client (ws keeps it in `_socket`; there is no public accessor). */
export function rawSocketOf(ws: WebSocket): import('node:net').Socket {
  return (ws as unknown as { _socket: import('node:net').Socket })._socket;
}

/** Drops every client with a TCP reset: no close frame, no FIN. */
export function resetAll(clients: WebSocket[]): void {
  for (const ws of clients) {
    ws.on('error', () => {}); // ECONNRESET and friends are the point here
    rawSocketOf(ws).resetAndDestroy();
  }
}
