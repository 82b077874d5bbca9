// One plain HTTP request for tests: no keep-alive, so no idle socket outlives it.
import { request } from 'node:http';
import { withTimeout } from './wait.js';

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpRequest(url: string, method = 'GET', timeoutMs = 3000, send: { headers?: Record<string, string>; body?: string } = {}): Promise<HttpReply> {
  const done = new Promise<HttpReply>((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: send.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(send.body);
  });
  return withTimeout(done, timeoutMs, `${method} ${url}`);
}

/** The samples of a Prometheus text exposition: "name{labels}" -> value. */
export function metricSamples(body: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}
