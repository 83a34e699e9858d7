// roamd's web server: the page (dashboard + screen viewer), its live feed, the
// "send to …" request and the screen WebSocket. Bound to 127.0.0.1 by default.
//
// Security model: nothing is served without a session cookie except /login,
// which turns a viewer token (viewer-token.ts: minted by `roam view` over the
// 0600 control socket, or by any household member's roamd) into an HttpOnly,
// SameSite=Strict session cookie. The WebSocket upgrade and POST also need an
// Origin equal to this server's own; on a loopback bind the Host header must
// name the loopback too (DNS rebinding finds no cookie and no Host it may use).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { checkHandshake, refusal, switchingProtocols } from './ws-handshake.js';
import { WsConnection } from './ws-connection.js';
import { DEFAULT_MAX_FRAGMENTS } from './ws-frames.js';
import { MAX_INPUT_MESSAGE } from './screen-wire.js';
import { serveScreen } from './screen-socket.js';
import { Sessions } from './sessions.js';
import { TokenGate, mintToken } from './viewer-token.js';
import { EventFeed } from './event-feed.js';
import { StaticFiles } from './static-files.js';
import type { HouseholdView } from './household-view.js';
import type { MigrationBoard } from './migration-board.js';
import type { ScreenService } from './screen-port.js';

export interface WebBackend {
  /** The key viewer tokens are checked (and minted) under: the household's, else this machine's own. */
  viewerKey(): Buffer;
  household(): HouseholdView;
  screens(): ScreenService | undefined;
  /** Starts moving `vm` to member `to` (here, or by asking the member it runs on); throws a user-facing reason when it cannot start. */
  send(vm: string, to: string): Promise<void>;
  readonly board: MigrationBoard;
  log(line: string): void;
}

export interface WebOptions {
  host: string;
  port: number;
  /** Where the built page lives (default: dist/web next to this module's dist/node/web). */
  staticDir?: string;
  /** How often the household is looked at for changes to push (default 1000 ms). */
  pollMs?: number;
}

const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_BODY = 4096;
/** Screen connections at once (each holds a subscription to a VM's screen). */
const MAX_SCREEN_SOCKETS = 32;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export class WebServer {
  private readonly sessions = new Sessions();
  private readonly gate: TokenGate;
  private readonly feed = new EventFeed();
  private readonly files: StaticFiles;
  private readonly sockets = new Set<WsConnection>();
  private readonly raw = new Set<Duplex>();
  private poll: NodeJS.Timeout | undefined;
  private lastHousehold = '';
  private readonly onMigration: (v: unknown) => void;

  private constructor(private readonly server: Server, private readonly backend: WebBackend, private readonly opts: WebOptions) {
    this.gate = new TokenGate(() => backend.viewerKey());
    this.files = new StaticFiles(opts.staticDir);
    this.onMigration = (v) => this.feed.broadcast('migration', v);
    backend.board.on('change', this.onMigration);
  }

  static async start(backend: WebBackend, opts: WebOptions): Promise<WebServer> {
    const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000 });
    const web = new WebServer(server, backend, opts);
    server.on('request', (req, res) => { web.onRequest(req, res).catch((e) => { backend.log(`web: ${(e as Error).message}`); if (!res.headersSent) text(res, 500, 'internal error'); else res.destroy(); }); });
    server.on('upgrade', (req, socket, head) => web.onUpgrade(req, socket, head));
    server.on('clientError', (_e, socket) => { socket.destroy(); });
    server.on('connection', (s) => { web.raw.add(s); s.once('close', () => web.raw.delete(s)); });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
    });
    web.poll = setInterval(() => web.pushHousehold(), opts.pollMs ?? 1000);
    web.poll.unref();
    return web;
  }

  get port(): number { return (this.server.address() as AddressInfo).port; }

  /** The address it is bound to, as configured (0.0.0.0 or :: for every address). */
  get host(): string { return this.opts.host; }

  /** The base URL a browser on this machine opens. */
  get url(): string {
    const h = this.opts.host;
    const host = h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h;
    return `http://${host}:${this.port}`;
  }

  /** A fresh login URL that lands on `next` (a path on this server). */
  loginUrl(next: string): { url: string; expiresAt: number } {
    const { token, expiresAt } = mintToken(this.backend.viewerKey());
    return { url: `${this.url}/login?token=${encodeURIComponent(token)}&next=${encodeURIComponent(next)}`, expiresAt };
  }

  async close(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.backend.board.off('change', this.onMigration);
    this.feed.close();
    for (const s of this.sockets) s.close(1001, 'roamd is stopping');
    for (const s of this.raw) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private pushHousehold(): void {
    if (this.feed.size === 0) return;
    const v = this.backend.household();
    const key = JSON.stringify({ ...v, migrations: undefined });
    if (key === this.lastHousehold) return;
    this.lastHousehold = key;
    this.feed.broadcast('household', v);
  }

  /** Host header check: on a loopback bind only loopback names, so a rebinding DNS name gets nowhere. */
  private hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (typeof host !== 'string' || host.length > 300) return false;
    if (!isLoopback(this.opts.host)) return true;
    const m = /^(\[[0-9a-fA-F:]+\]|[^:]+)(?::(\d+))?$/.exec(host);
    if (!m) return false;
    const name = m[1]!.replace(/^\[|\]$/g, '');
    return isLoopback(name) && Number(m[2] ?? 80) === this.port;
  }

  private originOk(req: IncomingMessage): boolean {
    return typeof req.headers.origin === 'string' && req.headers.origin === `http://${req.headers.host}`;
  }

  private signedIn(req: IncomingMessage): boolean {
    return this.sessions.check(req, this.port);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    if (!this.hostAllowed(req)) return text(res, 403, 'this server answers only to its own address');
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path === '/login' && req.method === 'GET') return this.login(req, res, url);
    if (!this.signedIn(req)) {
      return text(res, 401, 'not signed in: run `roam view` on this machine for a sign-in link');
    }
    if (req.method === 'GET' && (path === '/' || (path.startsWith('/view/') && VM_NAME.test(path.slice(6))))) return this.page(res);
    if (req.method === 'GET' && path.startsWith('/static/')) return this.files.serve(path.slice(8), res);
    if (req.method === 'GET' && path === '/api/household') return json(res, 200, this.backend.household());
    if (req.method === 'GET' && path === '/api/events') {
      const v = this.backend.household();
      if (!this.feed.add(res, [{ event: 'household', data: v }])) text(res, 503, 'too many open dashboards');
      return;
    }
    if (req.method === 'POST' && path === '/api/send') return this.send(req, res);
    return text(res, 404, 'not found');
  }

  private login(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const nextRaw = url.searchParams.get('next') ?? '/';
    const next = nextRaw === '/' || (nextRaw.startsWith('/view/') && VM_NAME.test(nextRaw.slice(6))) ? nextRaw : '/';
    const verdict = this.gate.redeem(url.searchParams.get('token'));
    if (!verdict.ok) {
      // A reload of a spent link from a browser that already signed in just goes on.
      if (this.signedIn(req)) { res.writeHead(303, { Location: next }); res.end(); return; }
      return text(res, 401, `sign-in refused (${verdict.why}); run \`roam view\` for a new link`);
    }
    res.writeHead(303, { 'Set-Cookie': this.sessions.create(this.port), Location: next });
    res.end();
  }

  private page(res: ServerResponse): void {
    res.setHeader('Content-Security-Policy', "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    res.setHeader('X-Frame-Options', 'DENY');
    this.files.serve('index.html', res);
  }

  private async send(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.originOk(req)) return text(res, 403, 'cross-origin request refused');
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return text(res, 415, 'send JSON');
    const body = await readBody(req, MAX_BODY);
    if (body === null) return text(res, 413, `body over ${MAX_BODY} bytes`);
    let m: Record<string, unknown>;
    try { m = JSON.parse(body) as Record<string, unknown>; } catch { return text(res, 400, 'body is not JSON'); }
    if (!m || typeof m !== 'object' || typeof m.vm !== 'string' || typeof m.to !== 'string' || !VM_NAME.test(m.vm) || !VM_NAME.test(m.to)) {
      return text(res, 400, 'body must be {"vm": name, "to": member name}');
    }
    try {
      await this.backend.send(m.vm, m.to);
    } catch (e) {
      return json(res, 409, { error: (e as Error).message });
    }
    return json(res, 202, { accepted: true });
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const refuse = (status: number, why: string, headers?: Record<string, string>) => { socket.end(refusal(status, why, headers)); };
    if (!this.hostAllowed(req)) return refuse(403, 'this server answers only to its own address');
    if (!this.signedIn(req)) return refuse(401, 'not signed in');
    if (!this.originOk(req)) return refuse(403, 'cross-origin WebSocket refused');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/ws\/screen\/([^/]+)$/.exec(path);
    if (!m || !VM_NAME.test(m[1]!)) return refuse(404, 'no such WebSocket');
    const hs = checkHandshake(req);
    if (!hs.ok) return refuse(hs.status, hs.reason, hs.headers);
    if (this.sockets.size >= MAX_SCREEN_SOCKETS) return refuse(503, 'too many screen connections');
    socket.write(switchingProtocols(hs.accept));
    const ws = new WsConnection(socket, head, { maxMessage: MAX_INPUT_MESSAGE, maxFragments: DEFAULT_MAX_FRAGMENTS });
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    serveScreen(ws, m[1]!, this.backend.screens(), (l) => this.backend.log(l));
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${body}\n`);
}

function json(res: ServerResponse, status: number, v: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(v));
}

/** The request body as text, or null when it is over `max` bytes (the rest is not read). */
function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
      if (n > max) { req.removeAllListeners('data'); req.resume(); resolve(null); return; }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
