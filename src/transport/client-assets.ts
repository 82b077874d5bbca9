// Serves the browser build of the client library to the chat page: GET
// /client/browser.js and every module it imports, straight from tsc's output
// (no bundler, no CDN). Node-only: the broker imports this, browsers never do.
//
// The files are found by following browser.js's relative imports, so a module
// that pulls in Node (index.js, socket-node.js, the terminal client) is never
// served, and a new module of the browser build is served without a list to edit.
// The client may import the wire contract (src/protocol): each module is served
// at its path under dist/src (/client/x.js, /protocol/y.js), so the browser
// resolves `../protocol/y.js` as Node does; nothing outside dist/src is served.
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpServer } from './http-server.js';
import { PAGE_HEADERS } from './static-pages.js';

/** URL path prefix of the client modules. */
export const CLIENT_PATH = '/client/';
const ENTRY = 'client/browser.js';
const IMPORT = /(?:from|import)\s*['"](\.\.?\/[A-Za-z0-9._/-]+\.js)['"]/g;

/**
 * The browser build's modules (path under dist/src → source), read from the
 * compiled tree this file sits in.
 */
export function browserModules(root: string = fileURLToPath(new URL('../', import.meta.url))): Map<string, Buffer> {
  const modules = new Map<string, Buffer>();
  const todo = [ENTRY];
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (modules.has(name)) continue;
    const body = readFileSync(`${root}/${name}`);
    modules.set(name, body);
    for (const m of body.toString().matchAll(IMPORT)) {
      const target = posix.normalize(posix.join(posix.dirname(name), m[1]));
      if (target.startsWith('../')) throw new Error(`client-assets: ${name} imports ${m[1]}, outside the compiled tree`);
      todo.push(target);
    }
  }
  return modules;
}

/** Registers GET /client/<module>.js for each module of the browser build. */
export function serveClientModules(http: HttpServer): void {
  let modules: Map<string, Buffer>;
  try {
    modules = browserModules();
  } catch {
    return; // not built: the page will say the client is missing
  }
  for (const [name, body] of modules) {
    http.onGet(`/${name}`, (req, res) => {
      res.writeHead(200, { ...PAGE_HEADERS, 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  }
}
