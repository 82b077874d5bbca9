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
    }
  }

  get(path: string): Page | undefined {
    return this.#pages.get(path);
  }
}
