// The pages the broker serves (chat page, inspector), read from public/ once at
// start: no build step, no CDN, and a request never touches the disk.
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
};

/**
 * Sent with every page and asset the broker serves (public/ and the client
 * modules). The pages hold no inline script or style (chat.js, chat.css,
 * inspect.js, inspect.css), so the policy can forbid both: a string a client
 * chose that ever reached markup could not run. connect-src 'self' covers the
 * page's own ws:// and wss:// (CSP Level 3). frame-ancestors and
 * X-Frame-Options keep the pages out of other sites' frames (clickjacking),
 * nosniff keeps a browser from reading a text file as a script, and
 * no-referrer keeps a URL's ?token= out of other sites' logs.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/** public/ at the package root: this file runs from dist/src/transport/. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../../public/', import.meta.url));

export interface Page {
  type: string;
  body: Buffer;
}

export class StaticPages {
  readonly #pages = new Map<string, Page>();

  constructor(dir: string = PUBLIC_DIR) {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return; // no pages shipped: only the API is served
    }
    for (const name of names) {
      const type = TYPES[extname(name)];
      if (type === undefined) continue;
      const page = { type, body: readFileSync(join(dir, name)) };
      this.#pages.set(`/${name}`, page);
      // /inspect serves inspect.html, / serves index.html
      if (name.endsWith('.html')) this.#pages.set(name === 'index.html' ? '/' : `/${name.slice(0, -5)}`, page);
      // Browsers ask for /favicon.ico whatever the page links: the same icon, not a 404 in every console.
      if (name === 'favicon.svg') this.#pages.set('/favicon.ico', page);
    }
  }

  get(path: string): Page | undefined {
    return this.#pages.get(path);
  }
}
