// The /roam/screen/1.0.0 wire format. The viewer's host opens a stream to the
// member where the VM runs; every frame is
//   u32 BE length (of what follows) | u8 type | body
// viewer → host:  HELLO {vm}            once, first
//                 NEXT                  "the next update, when something changed" (one outstanding)
//                 INPUT {ScreenInput}   any time
// host → viewer:  READY {host,width,height}   the VM runs here; updates follow, one per NEXT
//                 UPDATE                       binary, below
//                 END {kind,reason}            the VM left ('moved') or is not here ('absent'); the stream ends
// UPDATE body: u16 width | u16 height | u8 flags (bit 0: full) | u16 count |
//              count × (u16 x | u16 y | u16 w | u16 h | u32 length | length bytes of raw deflate)
// Everything here is decoded as hostile: lengths and counts are bounded before
// anything is allocated, every rect must lie inside the screen, JSON bodies are
// small and shape-checked, and nothing may follow the last rect.
import { checkScreenInput } from './input.js';
import type { ScreenInput, ScreenRect, ScreenUpdate } from './types.js';

export const enum ST { HELLO = 1, NEXT = 2, INPUT = 3, READY = 16, UPDATE = 17, END = 18 }

export const MAX_DIM = 4096;
export const MAX_RECTS = 4096;
export const MAX_JSON = 4096;
/** Largest frame: a full update of a noisy screen at the largest size we accept stays far below. */
export const MAX_SCREEN_FRAME = 32 << 20;
const RECT_HEADER = 12;
const UPDATE_HEADER = 7;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class ScreenWireError extends Error {}

/** Most bytes raw deflate may take for n bytes of input (stored blocks cost 5 bytes per ≤64 KiB; this is generous). */
export function maxDeflated(n: number): number { return n + (n >>> 10) + 64; }

export type ViewerMessage = { t: 'hello'; vm: string } | { t: 'next' } | { t: 'input'; e: ScreenInput };
export type HostMessage =
  | { t: 'ready'; host: string; width: number; height: number }
  | { t: 'update'; u: ScreenUpdate }
  | { t: 'end'; kind: 'moved' | 'absent'; reason: string };

function frame(type: ST, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.byteLength);
  new DataView(out.buffer).setUint32(0, 1 + body.byteLength);
  out[4] = type;
  out.set(body, 5);
  return out;
}

function jsonFrame(type: ST, value: object): Uint8Array {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  if (body.length > MAX_JSON) throw new ScreenWireError(`message of ${body.length} bytes is over the ${MAX_JSON}-byte limit`);
  return frame(type, body);
}

export function encodeViewer(m: ViewerMessage): Uint8Array {
  if (m.t === 'hello') return jsonFrame(ST.HELLO, { vm: m.vm });
  if (m.t === 'next') return frame(ST.NEXT, new Uint8Array(0));
  return jsonFrame(ST.INPUT, m.e);
}

export function encodeHost(m: HostMessage): Uint8Array {
  if (m.t === 'ready') return jsonFrame(ST.READY, { host: m.host, width: m.width, height: m.height });
  if (m.t === 'end') return jsonFrame(ST.END, { kind: m.kind, reason: m.reason.slice(0, 1000) });
  return encodeUpdate(m.u);
}

export function encodeUpdate(u: ScreenUpdate): Uint8Array {
  let n = 5 + UPDATE_HEADER;
  for (const r of u.rects) n += RECT_HEADER + r.data.byteLength;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n - 4); out[4] = ST.UPDATE;
  dv.setUint16(5, u.width); dv.setUint16(7, u.height); out[9] = u.full ? 1 : 0; dv.setUint16(10, u.rects.length);
  let o = 12;
  for (const r of u.rects) {
    dv.setUint16(o, r.x); dv.setUint16(o + 2, r.y); dv.setUint16(o + 4, r.w); dv.setUint16(o + 6, r.h); dv.setUint32(o + 8, r.data.byteLength);
    out.set(r.data, o + RECT_HEADER);
    o += RECT_HEADER + r.data.byteLength;
  }
  return out;
}

function json(body: Uint8Array): Record<string, unknown> {
  if (body.byteLength > MAX_JSON) throw new ScreenWireError(`JSON body of ${body.byteLength} bytes is over ${MAX_JSON}`);
  let v: unknown;
  try { v = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')); } catch { throw new ScreenWireError('body is not JSON'); }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ScreenWireError('body is not a JSON object');
  return v as Record<string, unknown>;
}

function dim(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_DIM) throw new ScreenWireError(`${what} must be 1..${MAX_DIM}`);
  return v;
}

/** A frame (type byte + body, as FrameReader returns it) from a viewer. */
export function decodeViewer(f: Uint8Array): ViewerMessage {
  if (f.byteLength < 1) throw new ScreenWireError('empty frame');
  const body = f.subarray(1);
  switch (f[0]) {
    case ST.HELLO: {
      const vm = json(body).vm;
      if (typeof vm !== 'string' || !NAME_RE.test(vm)) throw new ScreenWireError('hello must name a VM (letters, digits, ".", "_", "-"; at most 64)');
      return { t: 'hello', vm };
    }
    case ST.NEXT:
      if (body.byteLength !== 0) throw new ScreenWireError('NEXT carries no body');
      return { t: 'next' };
    case ST.INPUT: {
      const e = checkScreenInput(json(body));
      if (!e) throw new ScreenWireError('INPUT is not a key or pointer event');
      return { t: 'input', e };
    }
    default: throw new ScreenWireError(`unknown viewer frame type ${f[0]}`);
  }
}

/** A frame from the VM's host. */
export function decodeHost(f: Uint8Array): HostMessage {
  if (f.byteLength < 1) throw new ScreenWireError('empty frame');
  const body = f.subarray(1);
  switch (f[0]) {
    case ST.READY: {
      const m = json(body);
      if (typeof m.host !== 'string' || m.host.length === 0 || m.host.length > 64) throw new ScreenWireError('READY must name the host');
      return { t: 'ready', host: m.host, width: dim(m.width, 'width'), height: dim(m.height, 'height') };
    }
    case ST.END: {
      const m = json(body);
      if (m.kind !== 'moved' && m.kind !== 'absent') throw new ScreenWireError('END kind must be moved or absent');
      return { t: 'end', kind: m.kind, reason: typeof m.reason === 'string' ? m.reason.slice(0, 1000) : 'no reason given' };
    }
    case ST.UPDATE: return { t: 'update', u: decodeUpdate(body) };
    default: throw new ScreenWireError(`unknown host frame type ${f[0]}`);
  }
}

/** An UPDATE body; the rect data are views into `body`. */
export function decodeUpdate(body: Uint8Array): ScreenUpdate {
  if (body.byteLength < UPDATE_HEADER) throw new ScreenWireError('UPDATE shorter than its header');
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const width = dim(dv.getUint16(0), 'width'); const height = dim(dv.getUint16(2), 'height');
  const flags = body[4]!;
  if (flags > 1) throw new ScreenWireError(`UPDATE flags ${flags} unknown`);
  const count = dv.getUint16(5);
  if (count > MAX_RECTS) throw new ScreenWireError(`UPDATE of ${count} rects is over ${MAX_RECTS}`);
  if (count * RECT_HEADER > body.byteLength - UPDATE_HEADER) throw new ScreenWireError(`UPDATE too short for ${count} rects`);
  const rects: ScreenRect[] = [];
  let o = UPDATE_HEADER;
  for (let i = 0; i < count; i++) {
    if (o + RECT_HEADER > body.byteLength) throw new ScreenWireError(`rect ${i}: header past the end`);
    const x = dv.getUint16(o); const y = dv.getUint16(o + 2); const w = dv.getUint16(o + 4); const h = dv.getUint16(o + 6);
    const len = dv.getUint32(o + 8);
    if (w < 1 || h < 1 || x + w > width || y + h > height) throw new ScreenWireError(`rect ${i} (${w}x${h} at ${x},${y}) is not inside the ${width}x${height} screen`);
    if (len < 1 || len > maxDeflated(w * h * 4)) throw new ScreenWireError(`rect ${i}: ${len} bytes of data for ${w}x${h} pixels`);
    o += RECT_HEADER;
    if (len > body.byteLength - o) throw new ScreenWireError(`rect ${i}: data past the end`);
    rects.push({ x, y, w, h, data: body.subarray(o, o + len) });
    o += len;
  }
  if (o !== body.byteLength) throw new ScreenWireError(`${body.byteLength - o} bytes after the last rect`);
  return { width, height, full: flags === 1, rects };
}
