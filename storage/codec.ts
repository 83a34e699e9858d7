// Wire messages of /roam/store/1.0.0. A frame is a u32 BE body length then the
// body: a u8 message type and its fields. Everything comes from a possibly
// hostile peer, so the frame length is checked before anything is buffered and
// every field is bounds-checked; a bad frame is a ProtocolError, never a crash.
import { HASH_BYTES } from './hash.js';
import { MAX_CHUNK } from './chunker.js';
import { MAX_OBJECT_BYTES } from './objects.js';

export const STORE_PROTOCOL = '/roam/store/1.0.0';
export const PROTOCOL_VERSION = 1;
/** Hashes one request may name. */
export const MAX_REQUEST_HASHES = 1024;
const MAX_MACHINE_BYTES = 128;
const MAX_ERROR_BYTES = 1024;
const MAX_SNAPSHOT_RECORD_BYTES = 4096;
/** Largest body any message can have (an object frame at the object size limit). */
export const MAX_FRAME_BODY = 1 + HASH_BYTES + 1 + MAX_OBJECT_BYTES;

export const enum MsgType { Hello = 1, Head = 2, GetObjects = 3, Object = 4, GetChunks = 5, Chunk = 6, Error = 7, Bye = 8 }

export type Message =
  | { type: MsgType.Hello; version: number; machine: string }
  | { type: MsgType.Head; snapshot: { id: Uint8Array; record: string } | null }
  | { type: MsgType.GetObjects; ids: Uint8Array[] }
  | { type: MsgType.Object; id: Uint8Array; data: Uint8Array | null }
  | { type: MsgType.GetChunks; hashes: Uint8Array[] }
  | { type: MsgType.Chunk; hash: Uint8Array; data: Uint8Array | null }
  | { type: MsgType.Error; message: string }
  | { type: MsgType.Bye };

export class ProtocolError extends Error {}

class Writer {
  private parts: Buffer[] = [];
  private len = 0;
  u8(v: number): this { const b = Buffer.allocUnsafe(1); b[0] = v; return this.raw(b); }
  u16(v: number): this { const b = Buffer.allocUnsafe(2); b.writeUInt16BE(v); return this.raw(b); }
  u32(v: number): this { const b = Buffer.allocUnsafe(4); b.writeUInt32BE(v); return this.raw(b); }
  raw(b: Uint8Array): this { const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength); this.parts.push(buf); this.len += buf.length; return this; }
  str16(s: string, max: number): this {
    const b = Buffer.from(s, 'utf8');
    if (b.length > max) throw new ProtocolError(`string of ${b.length} bytes exceeds ${max}`);
    return this.u16(b.length).raw(b);
  }
  hash(h: Uint8Array): this {
    if (h.length !== HASH_BYTES) throw new ProtocolError('hash of wrong length');
    return this.raw(h);
  }
  frame(): Buffer {
    if (this.len > MAX_FRAME_BODY) throw new ProtocolError(`frame of ${this.len} bytes exceeds ${MAX_FRAME_BODY}`);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(this.len);
    return Buffer.concat([head, ...this.parts], 4 + this.len);
  }
}

export function encodeMessage(m: Message): Buffer {
  const w = new Writer().u8(m.type);
  switch (m.type) {
    case MsgType.Hello: return w.u16(m.version).str16(m.machine, MAX_MACHINE_BYTES).frame();
    case MsgType.Head:
      if (!m.snapshot) return w.u8(0).frame();
      return w.u8(1).hash(m.snapshot.id).str16(m.snapshot.record, MAX_SNAPSHOT_RECORD_BYTES).frame();
    case MsgType.GetObjects:
    case MsgType.GetChunks: {
      const list = m.type === MsgType.GetObjects ? m.ids : m.hashes;
      if (list.length > MAX_REQUEST_HASHES) throw new ProtocolError('too many hashes in one request');
      w.u16(list.length);
      for (const h of list) w.hash(h);
      return w.frame();
    }
    case MsgType.Object:
    case MsgType.Chunk: {
      const key = m.type === MsgType.Object ? m.id : m.hash;
      const limit = m.type === MsgType.Object ? MAX_OBJECT_BYTES : MAX_CHUNK;
      w.hash(key);
      if (!m.data) return w.u8(0).frame();
      if (m.data.length > limit) throw new ProtocolError(`payload of ${m.data.length} bytes exceeds ${limit}`);
      return w.u8(1).raw(m.data).frame();
    }
    case MsgType.Error: {
      let msg = m.message;
      while (Buffer.byteLength(msg) > MAX_ERROR_BYTES) msg = msg.slice(0, Math.floor(msg.length / 2));
      return w.str16(msg, MAX_ERROR_BYTES).frame();
    }
    case MsgType.Bye: return w.frame();
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly b: Uint8Array) {}
  private need(n: number): void { if (this.pos + n > this.b.length) throw new ProtocolError('message truncated'); }
  u8(): number { this.need(1); return this.b[this.pos++]!; }
  u16(): number { this.need(2); const v = (this.b[this.pos]! << 8) | this.b[this.pos + 1]!; this.pos += 2; return v; }
  bytes(n: number): Uint8Array { this.need(n); const v = this.b.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  rest(): Uint8Array { const v = this.b.subarray(this.pos); this.pos = this.b.length; return v; }
  str16(max: number): string {
    const n = this.u16();
    if (n > max) throw new ProtocolError(`string of ${n} bytes exceeds ${max}`);
    const s = new TextDecoder('utf-8', { fatal: true });
    try { return s.decode(this.bytes(n)); } catch (e) { if (e instanceof ProtocolError) throw e; throw new ProtocolError('string is not UTF-8'); }
  }
  flag(): boolean { const f = this.u8(); if (f > 1) throw new ProtocolError('bad flag'); return f === 1; }
  end(): void { if (this.pos !== this.b.length) throw new ProtocolError('trailing bytes in message'); }
}

/** Decodes one frame body (type byte onwards). */
export function decodeMessage(body: Uint8Array): Message {
  if (body.length > MAX_FRAME_BODY) throw new ProtocolError('frame too large');
  const r = new Reader(body);
  const type = r.u8();
  let m: Message;
  switch (type) {
    case MsgType.Hello: m = { type, version: r.u16(), machine: r.str16(MAX_MACHINE_BYTES) }; break;
    case MsgType.Head:
      m = { type, snapshot: r.flag() ? { id: r.bytes(HASH_BYTES), record: r.str16(MAX_SNAPSHOT_RECORD_BYTES) } : null };
      break;
    case MsgType.GetObjects:
    case MsgType.GetChunks: {
      const n = r.u16();
      if (n > MAX_REQUEST_HASHES) throw new ProtocolError(`request names ${n} hashes, more than ${MAX_REQUEST_HASHES}`);
      const list: Uint8Array[] = [];
      for (let i = 0; i < n; i++) list.push(r.bytes(HASH_BYTES));
      m = type === MsgType.GetObjects ? { type, ids: list } : { type, hashes: list };
      break;
    }
    case MsgType.Object:
    case MsgType.Chunk: {
      const key = r.bytes(HASH_BYTES);
      const data = r.flag() ? r.rest() : null;
      const limit = type === MsgType.Object ? MAX_OBJECT_BYTES : MAX_CHUNK;
      if (data && data.length > limit) throw new ProtocolError(`payload of ${data.length} bytes exceeds ${limit}`);
      m = type === MsgType.Object ? { type, id: key, data } : { type, hash: key, data };
      break;
    }
    case MsgType.Error: m = { type, message: r.str16(MAX_ERROR_BYTES) }; break;
    case MsgType.Bye: m = { type }; break;
    default: throw new ProtocolError(`unknown message type ${type}`);
  }
  r.end();
  return m;
}

/**
 * Splits a byte stream into frames. Refuses a declared length above the limit
 * before buffering it, so a peer cannot make us allocate more than one frame.
 */
export class FrameDecoder {
  private parts: Uint8Array[] = [];
  private buffered = 0;
  private want = -1;

  constructor(private readonly maxBody = MAX_FRAME_BODY) {}

  /** Feeds bytes; returns the complete frame bodies they finish. */
  push(bytes: Uint8Array): Uint8Array[] {
    if (bytes.length) { this.parts.push(bytes); this.buffered += bytes.length; }
    const out: Uint8Array[] = [];
    for (;;) {
      if (this.want < 0) {
        if (this.buffered < 4) break;
        const head = this.take(4);
        this.want = ((head[0]! << 24) >>> 0) + (head[1]! << 16) + (head[2]! << 8) + head[3]!;
        if (this.want > this.maxBody) throw new ProtocolError(`frame of ${this.want} bytes exceeds the ${this.maxBody} byte limit`);
        if (this.want === 0) throw new ProtocolError('empty frame');
      }
      if (this.buffered < this.want) break;
      out.push(this.take(this.want));
      this.want = -1;
    }
    return out;
  }

  /** Bytes held waiting for the rest of a frame (bounded by one frame). */
  get pending(): number { return this.buffered; }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const p = this.parts[0]!;
      const k = Math.min(n - filled, p.length);
      out.set(p.subarray(0, k), filled);
      filled += k;
      if (k === p.length) this.parts.shift(); else this.parts[0] = p.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
