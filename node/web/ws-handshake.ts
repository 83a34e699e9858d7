// The WebSocket opening handshake (RFC 6455 section 4.2), server side: checks
// the client's upgrade request and computes Sec-WebSocket-Accept. No
// subprotocol and no extension (permessage-deflate offers are ignored, so the
// reserved bits stay illegal in the frame decoder).
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptKey(secWebSocketKey: string): string {
  return createHash('sha1').update(secWebSocketKey + GUID).digest('base64');
}

export type HandshakeCheck =
  | { ok: true; accept: string }
  | { ok: false; status: number; reason: string; headers?: Record<string, string> };

function hasToken(header: string | string[] | undefined, token: string): boolean {
  const v = Array.isArray(header) ? header.join(',') : header ?? '';
  return v.split(',').some((t) => t.trim().toLowerCase() === token);
}

/** Whether an upgrade request is a well-formed WebSocket version 13 handshake; the accept value when it is. */
export function checkHandshake(req: IncomingMessage): HandshakeCheck {
  if (req.method !== 'GET') return { ok: false, status: 405, reason: 'a WebSocket handshake is a GET' };
  if (req.httpVersionMajor !== 1 || req.httpVersionMinor < 1) return { ok: false, status: 400, reason: 'a WebSocket handshake needs HTTP/1.1' };
  if (!hasToken(req.headers.upgrade, 'websocket')) return { ok: false, status: 400, reason: 'Upgrade: websocket missing' };
  if (!hasToken(req.headers.connection, 'upgrade')) return { ok: false, status: 400, reason: 'Connection: Upgrade missing' };
  if (req.headers['sec-websocket-version'] !== '13') {
    return { ok: false, status: 426, reason: 'only WebSocket version 13 is spoken here', headers: { 'Sec-WebSocket-Version': '13' } };
  }
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || key.length !== 24 || !/^[A-Za-z0-9+/]{22}==$/.test(key) || Buffer.from(key, 'base64').length !== 16) {
    return { ok: false, status: 400, reason: 'Sec-WebSocket-Key must be 16 bytes in base64' };
  }
  return { ok: true, accept: acceptKey(key) };
}

export function switchingProtocols(accept: string): string {
  return 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

/** A plain HTTP refusal written on a socket that asked to upgrade (no data beyond the reason). */
export function refusal(status: number, reason: string, headers: Record<string, string> = {}): string {
  const body = `${reason}\n`;
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 426: 'Upgrade Required', 503: 'Service Unavailable',
};
