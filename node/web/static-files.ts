// The built page (dist/web: index.html, style.css, the compiled scripts),
// served by name from one directory: a name is a plain file name with a known
// extension, never a path, so nothing outside that directory can be asked for.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** dist/web, seen from dist/node/web/static-files.js. */
export function defaultStaticDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
}

export class StaticFiles {
  private readonly dir: string;
  private readonly cache = new Map<string, Buffer>();

  constructor(dir?: string) { this.dir = dir ?? defaultStaticDir(); }

  serve(name: string, res: ServerResponse): void {
    const ext = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\.[a-z]{1,4})(\.map)?$/.exec(name);
    const type = ext ? TYPES[ext[2] ?? ext[1]!] : undefined;
    if (!ext || !type) { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('not found\n'); return; }
    let body = this.cache.get(name);
    if (!body) {
      const path = join(this.dir, name);
      if (!existsSync(path)) {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end(name === 'index.html' ? `the page is not built (${path} is missing); run npm run build\n` : 'not found\n');
        return;
      }
      body = readFileSync(path);
      this.cache.set(name, body);
    }
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
    res.end(body);
  }
}
