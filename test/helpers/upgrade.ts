// One WebSocket upgrade request by hand, to see the HTTP status a refused
// client gets (401, 403, 429) or 101 when it is let in (the socket is then
// destroyed at once: the test only wanted the status).
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { waitFor, withTimeout } from './wait.js';

export interface UpgradeReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

export interface UpgradeOptions {
  headers?: Record<string, string>;
  /** Source address, e.g. 127.0.0.2, to look like another client. */
  localAddress?: string;
  timeoutMs?: number;
}

export function upgradeStatus(wsUrl: string, options: UpgradeOptions = {}): Promise<UpgradeReply> {
  const url = new URL(wsUrl);
  const done = new Promise<UpgradeReply>((resolve, reject) => {
    const req = request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, agent: false,
      localAddress: options.localAddress,
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'), ...options.headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
  return withTimeout(done, options.timeoutMs ?? 3000, `the upgrade reply from ${wsUrl}`);
}

/**
 * Upgrades until one is let in (101), as a freed slot takes a moment to reach
 * the count; every refusal before that must be `refused` (503, 429...). The
 * time-out guards a hang only.
 */
export async function admittedAgain(wsUrl: string, refused: number, options: UpgradeOptions = {}, hangMs = 30_000): Promise<void> {
  await waitFor(async () => {
    const { status } = await upgradeStatus(wsUrl, options);
    if (status !== 101 && status !== refused) throw new Error(`an upgrade was answered ${status}, neither 101 nor ${refused}`);
    return status === 101;
  }, hangMs, `an upgrade from ${options.localAddress ?? 'the default address'} to be let in again`, 20);
}
