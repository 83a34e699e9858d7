// WebSocket framing (RFC 6455 section 5), our own: an incremental decoder for
// what a browser sends and an encoder for what the server sends. Everything a
// client sends is hostile, so the decoder bounds every length before it holds
// a byte of it: a message (all its fragments together) is at most maxMessage
// bytes, a message has at most maxFragments fragments, control frames carry
// at most 125 bytes and are never fragmented, client frames must be masked,
// no extension bits may be set (none is negotiated), lengths must use their
// shortest encoding, and text must be valid UTF-8. A violation throws a
// WsProtocolError carrying the close code the connection must be closed with.

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes this server uses (RFC 6455 section 7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_UNSUPPORTED_DATA = 1003;
export const CLOSE_INVALID_PAYLOAD = 1007;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;

export const MAX_CONTROL_PAYLOAD = 125;
/** Default bounds for what a browser may send this server: its messages are small JSON. */
export const DEFAULT_MAX_MESSAGE = 64 * 1024;
export const DEFAULT_MAX_FRAGMENTS = 64;

export class WsProtocolError extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

export type WsEvent =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; data: Buffer }
  | { kind: 'ping'; data: Buffer }
  | { kind: 'pong'; data: Buffer }
  | { kind: 'close'; code: number | null; reason: string };

export interface DecoderLimits { maxMessage?: number; maxFragments?: number; requireMask?: boolean }

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(b: Buffer, what: string): string {
  try { return utf8.decode(b); } catch { throw new WsProtocolError(CLOSE_INVALID_PAYLOAD, `${what} is not valid UTF-8`); }
}

/** Close codes a peer may send (1004-1006 and 1015 are reserved, never on the wire). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

interface FrameHeader { fin: boolean; opcode: number; masked: boolean; length: number; headerBytes: number; mask: Buffer | null }

/**
 * Turns bytes from the socket into messages. Feed it chunks as they arrive; it
 * returns the complete events (data messages, control frames) they finish.
 * After it throws, the connection must be closed: its state is undefined.
 */
export class WsDecoder {
  private readonly maxMessage: number;
  private readonly maxFragments: number;
  private readonly requireMask: boolean;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The data message being reassembled from fragments, if any. */
  private message: { opcode: number; parts: Buffer[]; bytes: number; fragments: number } | null = null;
  private closed = false;

  constructor(limits: DecoderLimits = {}) {
    this.maxMessage = limits.maxMessage ?? DEFAULT_MAX_MESSAGE;
    this.maxFragments = limits.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.requireMask = limits.requireMask ?? true;
  }

  push(chunk: Uint8Array): WsEvent[] {
    if (this.closed) return []; // nothing after a close frame counts (RFC 6455 5.5.1)
    if (chunk.length) { this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)); this.pendingBytes += chunk.length; }
    const out: WsEvent[] = [];
    for (;;) {
      const head = this.header();
      if (!head) break;
      if (this.pendingBytes < head.headerBytes + head.length) break;
      const frame = this.take(head.headerBytes + head.length).subarray(head.headerBytes);
      if (head.mask) for (let i = 0; i < frame.length; i++) frame[i]! ^= head.mask[i & 3]!;
      const ev = this.frame(head, frame);
      if (ev) out.push(ev);
      if (ev?.kind === 'close') { this.closed = true; this.pending = []; this.pendingBytes = 0; break; }
    }
    return out;
  }

  /** Parses the next frame header once enough bytes are there; checks it before its payload is awaited. */
  private header(): FrameHeader | null {
    if (this.pendingBytes < 2) return null;
    const b = this.peek(Math.min(this.pendingBytes, 14));
    const fin = (b[0]! & 0x80) !== 0;
    if (b[0]! & 0x70) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'reserved bits set without a negotiated extension');
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let length = b[1]! & 0x7f;
    let at = 2;
    const control = opcode >= 0x8;
    if (![OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG].includes(opcode)) {
      throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, `unknown opcode ${opcode}`);
    }
    if (this.requireMask && !masked) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'client frames must be masked');
    if (control) {
      if (!fin) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'control frames must not be fragmented');
      if (length > MAX_CONTROL_PAYLOAD) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'control frame payload over 125 bytes');
    }
    if (length === 126) {
      if (b.length < 4) return null;
      length = b.readUInt16BE(2); at = 4;
      if (length < 126) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'length not in its shortest encoding');
    } else if (length === 127) {
      if (b.length < 10) return null;
      const hi = b.readUInt32BE(2), lo = b.readUInt32BE(6);
      if (hi & 0x80000000) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, '64-bit length with its top bit set');
      if (hi === 0 && lo < 65536) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'length not in its shortest encoding');
      // Anything this large is over every limit: refuse without computing an unsafe number.
      length = hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * 2 ** 32 + lo; at = 10;
    }
    // Bound the message before a byte of its payload is buffered.
    if (!control) {
      const sofar = this.message?.bytes ?? 0;
      if (length > this.maxMessage || sofar + length > this.maxMessage) {
        throw new WsProtocolError(CLOSE_TOO_BIG, `message over the ${this.maxMessage}-byte limit`);
      }
    }
    let mask: Buffer | null = null;
    if (masked) {
      if (b.length < at + 4) return null;
      mask = Buffer.from(b.subarray(at, at + 4)); at += 4;
    }
    return { fin, opcode, masked, length, headerBytes: at, mask };
  }

  private frame(h: FrameHeader, payload: Buffer): WsEvent | null {
    switch (h.opcode) {
      case OP_PING: return { kind: 'ping', data: Buffer.from(payload) };
      case OP_PONG: return { kind: 'pong', data: Buffer.from(payload) };
      case OP_CLOSE: {
        if (payload.length === 0) return { kind: 'close', code: null, reason: '' };
        if (payload.length === 1) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'close frame with a 1-byte payload');
        const code = payload.readUInt16BE(0);
        if (!validCloseCode(code)) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
        return { kind: 'close', code, reason: decodeUtf8(payload.subarray(2), 'close reason') };
      }
      case OP_TEXT:
      case OP_BINARY:
        if (this.message) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'new message before the fragmented one ended');
        if (h.fin) return this.complete(h.opcode, [Buffer.from(payload)]);
        this.message = { opcode: h.opcode, parts: [Buffer.from(payload)], bytes: payload.length, fragments: 1 };
        return null;
      default: { // continuation
        const m = this.message;
        if (!m) throw new WsProtocolError(CLOSE_PROTOCOL_ERROR, 'continuation frame without a message to continue');
        if (++m.fragments > this.maxFragments) throw new WsProtocolError(CLOSE_TOO_BIG, `message in more than ${this.maxFragments} fragments`);
        m.parts.push(Buffer.from(payload)); m.bytes += payload.length;
        if (!h.fin) return null;
        this.message = null;
        return this.complete(m.opcode, m.parts);
      }
    }
  }

  private complete(opcode: number, parts: Buffer[]): WsEvent {
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return opcode === OP_TEXT ? { kind: 'text', text: decodeUtf8(data, 'text message') } : { kind: 'binary', data };
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length >= n) return this.pending[0]!.subarray(0, n);
    const all = Buffer.concat(this.pending);
    this.pending = [all];
    return all.subarray(0, n);
  }

  /** Removes and returns the first n bytes (a fresh copy, so unmasking never touches the caller's chunk). */
  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const out = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes -= n;
    return out;
  }
}

/**
 * One frame as bytes. Server frames are unmasked; `mask` (4 bytes) is for the
 * client side (tests, and anything that speaks to a roamd as a browser would).
 */
export function encodeFrame(opcode: number, payload: Uint8Array, opts: { fin?: boolean; mask?: Uint8Array; rsv?: number } = {}): Buffer {
  const fin = opts.fin ?? true;
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const maskBytes = opts.mask ? 4 : 0;
  const out = Buffer.alloc(2 + ext + maskBytes + len);
  out[0] = (fin ? 0x80 : 0) | ((opts.rsv ?? 0) & 0x7) << 4 | (opcode & 0x0f);
  out[1] = (opts.mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) out.writeUInt16BE(len, 2);
  else if (ext === 8) { out.writeUInt32BE(Math.floor(len / 2 ** 32), 2); out.writeUInt32BE(len >>> 0, 6); }
  const at = 2 + ext + maskBytes;
  if (opts.mask) {
    out.set(opts.mask.subarray(0, 4), 2 + ext);
    for (let i = 0; i < len; i++) out[at + i] = payload[i]! ^ opts.mask[i & 3]!;
  } else {
    out.set(payload, at);
  }
  return out;
}

/** The header of an unmasked server frame, for writing a large payload without copying it. */
export function serverFrameHeader(opcode: number, length: number): Buffer {
  const ext = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const out = Buffer.alloc(2 + ext);
  out[0] = 0x80 | opcode;
  out[1] = ext === 0 ? length : ext === 2 ? 126 : 127;
  if (ext === 2) out.writeUInt16BE(length, 2);
  else if (ext === 8) { out.writeUInt32BE(Math.floor(length / 2 ** 32), 2); out.writeUInt32BE(length >>> 0, 6); }
  return out;
}

export function closePayload(code: number, reason = ''): Buffer {
  // A close reason must fit the 125-byte control payload with its 2-byte code and stay valid UTF-8: keep it ASCII.
  const r = Buffer.from(reason.replace(/[^\x20-\x7e]/g, '?').slice(0, MAX_CONTROL_PAYLOAD - 2), 'ascii');
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}
