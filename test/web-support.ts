// A WebSocket and HTTP client for the web server tests, speaking to roamd's
// web page as a browser would (cookie, Origin, masked frames), built on the
// project's own frame codec.
import { request, type IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { OP_CLOSE, OP_TEXT, WsDecoder, encodeFrame, type WsEvent } from '../node/web/ws-frames.js';

export interface HttpResult { status: number; headers: IncomingMessage['headers']; body: string }

export function http(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Follows a `roam view` link: returns the session cookie ("name=value") it set, or the refusal. */
export async function signIn(loginUrl: string): Promise<{ cookie: string | null; status: number; location?: string; body: string }> {
  const r = await http(loginUrl);
  const set = r.headers['set-cookie']?.[0];
  return { cookie: set ? set.split(';')[0]! : null, status: r.status, ...(r.headers.location ? { location: r.headers.location } : {}), body: r.body };
}

export class TestWs {
  readonly messages: WsEvent[] = [];
  closed: { code: number | null } | null = null;
  private readonly decoder = new WsDecoder({ requireMask: false, maxMessage: 64 << 20, maxFragments: 1 << 16 });
  private waiters: (() => void)[] = [];

  constructor(readonly socket: Socket, head: Buffer) {
    socket.on('data', (d: Buffer) => this.feed(d));
    socket.on('close', () => { if (!this.closed) this.closed = { code: null }; this.wake(); });
    socket.on('error', () => undefined);
    if (head.length) this.feed(head);
  }

  private feed(d: Buffer): void {
    for (const ev of this.decoder.push(d)) {
      if (ev.kind === 'close') { this.closed = { code: ev.code }; this.socket.end(encodeFrame(OP_CLOSE, Buffer.alloc(0), { mask: randomBytes(4) })); }
      else this.messages.push(ev);
    }
    this.wake();
  }

  private wake(): void { const w = this.waiters; this.waiters = []; for (const f of w) f(); }

  /** Resolves when `pred` holds (checked after every arrival); rejects after `ms`. */
  until<T>(what: string, pred: () => T | undefined | false, ms = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      const check = () => { const v = pred(); if (v) { clearTimeout(t); resolve(v); } else this.waiters.push(check); };
      check();
    });
  }

  sendText(text: string): void { this.socket.write(encodeFrame(OP_TEXT, Buffer.from(text), { mask: randomBytes(4) })); }
  sendRaw(bytes: Uint8Array): void { this.socket.write(bytes); }
  close(): void { this.socket.destroy(); }
}

/** Opens a WebSocket; resolves with it, or with the HTTP status of the refusal. */
export function openWs(url: string, headers: Record<string, string>): Promise<TestWs | { refused: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), ...headers } });
    req.on('upgrade', (_res, socket, head) => resolve(new TestWs(socket as Socket, head)));
    req.on('response', (res) => { let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => resolve({ refused: res.statusCode ?? 0, body })); });
    req.on('error', reject);
    req.end();
  });
}
