// Viewer tokens: the one-time login ticket in the URL `roam view` prints. A
// token is an expiry, a random nonce and an HMAC-SHA256 over both under a key
// derived from the household secret, so the web server of any household member
// accepts a token another member minted. A machine in no household yet uses a
// random key of its own (STATE/viewer.key, 0600). The token only buys a
// session cookie (sessions.ts); each server takes a given token once.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const TOKEN_TTL_MS = 10 * 60 * 1000;
const MAX_TOKEN_CHARS = 200;
const KEY_BYTES = 32;
/** Tokens remembered as spent (until they expire); past this many, the oldest are forgotten early. */
const MAX_SPENT = 10_000;

/** The token key every member derives alike from the household secret (never the secret itself). */
export function householdViewerKey(secret: Buffer, householdId: string): Buffer {
  return createHmac('sha256', secret).update(`roam-viewer-key-v1\0${householdId}`).digest();
}

/** This machine's own key, for a roamd that is in no household yet; created on first use. */
export function localViewerKey(path: string): Buffer {
  if (existsSync(path)) {
    const k = readFileSync(path);
    if (k.length === KEY_BYTES) return k;
  }
  const k = randomBytes(KEY_BYTES);
  writeFileSync(path, k, { mode: 0o600 });
  return k;
}

function mac(key: Buffer, expiry: string, nonce: string): Buffer {
  return createHmac('sha256', key).update(`roam-viewer-token-v1\0${expiry}\0${nonce}`).digest();
}

export function mintToken(key: Buffer, now = Date.now(), ttlMs = TOKEN_TTL_MS): { token: string; expiresAt: number } {
  const expiresAt = now + ttlMs;
  const expiry = String(expiresAt);
  const nonce = randomBytes(16).toString('base64url');
  return { token: `${expiry}.${nonce}.${mac(key, expiry, nonce).toString('base64url')}`, expiresAt };
}

export type TokenVerdict = { ok: true; nonce: string; expiresAt: number } | { ok: false; why: string };

/** Checks a token's form, MAC and expiry (not whether it was spent: that is per server, TokenGate). */
export function verifyToken(key: Buffer, token: unknown, now = Date.now()): TokenVerdict {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return { ok: false, why: 'malformed token' };
  const m = /^(\d{13,15})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return { ok: false, why: 'malformed token' };
  const [, expiry, nonce, sig] = m as unknown as [string, string, string, string];
  const want = mac(key, expiry, nonce);
  const got = Buffer.from(sig, 'base64url');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, why: 'token not issued by this household' };
  const expiresAt = Number(expiry);
  if (!(expiresAt > now)) return { ok: false, why: 'token expired' };
  if (expiresAt > now + TOKEN_TTL_MS + 60_000) return { ok: false, why: 'token expiry too far ahead' };
  return { ok: true, nonce, expiresAt };
}

/** Verifies tokens under the current key and spends each one once on this server. */
export class TokenGate {
  private readonly spent = new Map<string, number>();

  constructor(private readonly key: () => Buffer, private readonly now: () => number = Date.now) {}

  redeem(token: unknown): TokenVerdict {
    const v = verifyToken(this.key(), token, this.now());
    if (!v.ok) return v;
    this.prune();
    if (this.spent.has(v.nonce)) return { ok: false, why: 'token already used' };
    if (this.spent.size >= MAX_SPENT) this.spent.delete(this.spent.keys().next().value!);
    this.spent.set(v.nonce, v.expiresAt);
    return v;
  }

  private prune(): void {
    const now = this.now();
    for (const [n, exp] of this.spent) if (exp <= now) this.spent.delete(n);
  }
}
