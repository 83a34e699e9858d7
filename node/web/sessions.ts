// Browser sessions: a random id in an HttpOnly, SameSite=Strict cookie, the
// session itself only in this server's memory, expiring. The cookie name
// carries the port, because browsers share cookies between ports of one host
// (two roamds on one machine must not overwrite each other's session).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
const MAX_SESSIONS = 256;
const MAX_COOKIE_HEADER = 8192;

export class Sessions {
  private readonly byId = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  cookieName(port: number): string { return `roam_session_${port}`; }

  /** A new session; returns its Set-Cookie header value. */
  create(port: number): string {
    this.prune();
    if (this.byId.size >= MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    this.byId.set(id, this.now() + SESSION_TTL_MS);
    return `${this.cookieName(port)}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_TTL_MS / 1000}`;
  }

  /** Whether the request carries a live session cookie for this server. */
  check(req: IncomingMessage, port: number): boolean {
    const id = readCookie(req, this.cookieName(port));
    if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) return false;
    const exp = this.byId.get(id);
    // 256 random bits: guessing one is hopeless, so a plain map lookup is fine.
    if (exp === undefined) return false;
    if (exp <= this.now()) { this.byId.delete(id); return false; }
    return true;
  }

  private prune(): void {
    const now = this.now();
    for (const [id, exp] of this.byId) if (exp <= now) this.byId.delete(id);
  }
}

export function readCookie(req: IncomingMessage, name: string): string | undefined {
  const raw = req.headers.cookie;
  if (typeof raw !== 'string' || raw.length > MAX_COOKIE_HEADER) return undefined;
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
