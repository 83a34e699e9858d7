// What travels on the screen WebSocket (/ws/screen/<vm>).
//
// Server → page, binary, one message per screen update (all numbers little endian):
//   offset 0  u8   kind = 1 (update)
//          1  u8   flags: bit 0 = full (the rects cover the whole screen)
//          2  u16  screen width in pixels
//          4  u16  screen height in pixels
//          6  u16  number of rects N
//          8  N × { u16 x, u16 y, u16 w, u16 h, u32 n, n bytes }
//             the n bytes are deflate-raw of w*h*4 bytes: rows top to bottom,
//             pixels B,G,R,X (the framebuffer's own bytes); the page inflates
//             them with DecompressionStream('deflate-raw').
// Server → page, text: {"type":"state", ...ScreenState}  (where the session is: live/moving/gone/connecting)
// Page → server, text (JSON, at most MAX_INPUT_MESSAGE bytes):
//   {"type":"key","code":"KeyA","down":true}       KeyboardEvent.code
//   {"type":"pointer","dx":3,"dy":-2,"buttons":1}  relative move in screen pixels (dy down-positive)
// Anything else from the page (binary, bad JSON, unknown type, a field out of
// range) closes that page's connection.
import type { ScreenInput, ScreenUpdate } from './screen-port.js';

export const UPDATE_KIND = 1;
export const UPDATE_HEADER_BYTES = 8;
export const RECT_HEADER_BYTES = 12;
/** A browser's input messages are tiny; anything bigger is not one. */
export const MAX_INPUT_MESSAGE = 1024;
const MAX_DIMENSION = 16384;
const MAX_RECTS = 65535;
const MAX_KEY_CODE = 32;
const MAX_DELTA = 8192;

export class InputError extends Error {}

/** One update as the page receives it; the rect payloads are referenced, not copied, until the final concat. */
export function encodeUpdate(u: ScreenUpdate): Buffer {
  if (!(u.width > 0 && u.width <= MAX_DIMENSION && u.height > 0 && u.height <= MAX_DIMENSION)) throw new Error(`screen size ${u.width}x${u.height} out of range`);
  if (u.rects.length > MAX_RECTS) throw new Error(`${u.rects.length} rects in one update`);
  const parts: Uint8Array[] = [];
  const head = Buffer.alloc(UPDATE_HEADER_BYTES);
  head.writeUInt8(UPDATE_KIND, 0);
  head.writeUInt8(u.full ? 1 : 0, 1);
  head.writeUInt16LE(u.width, 2);
  head.writeUInt16LE(u.height, 4);
  head.writeUInt16LE(u.rects.length, 6);
  parts.push(head);
  for (const r of u.rects) {
    if (r.x < 0 || r.y < 0 || r.w <= 0 || r.h <= 0 || r.x + r.w > u.width || r.y + r.h > u.height) {
      throw new Error(`rect ${r.x},${r.y} ${r.w}x${r.h} is outside the ${u.width}x${u.height} screen`);
    }
    const rh = Buffer.alloc(RECT_HEADER_BYTES);
    rh.writeUInt16LE(r.x, 0); rh.writeUInt16LE(r.y, 2); rh.writeUInt16LE(r.w, 4); rh.writeUInt16LE(r.h, 6);
    rh.writeUInt32LE(r.data.length, 8);
    parts.push(rh, r.data);
  }
  return Buffer.concat(parts);
}

/** The reverse of encodeUpdate, every length checked (the tests' and any non-browser client's side). */
export function decodeUpdate(b: Uint8Array): ScreenUpdate {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < UPDATE_HEADER_BYTES || buf[0] !== UPDATE_KIND) throw new Error('not a screen update');
  const width = buf.readUInt16LE(2), height = buf.readUInt16LE(4), n = buf.readUInt16LE(6);
  const rects: ScreenUpdate['rects'] = [];
  let at = UPDATE_HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    if (at + RECT_HEADER_BYTES > buf.length) throw new Error('update ends inside a rect header');
    const x = buf.readUInt16LE(at), y = buf.readUInt16LE(at + 2), w = buf.readUInt16LE(at + 4), h = buf.readUInt16LE(at + 6);
    const len = buf.readUInt32LE(at + 8);
    at += RECT_HEADER_BYTES;
    if (at + len > buf.length) throw new Error('update ends inside rect data');
    if (x + w > width || y + h > height) throw new Error('rect outside the screen');
    rects.push({ x, y, w, h, data: buf.subarray(at, at + len) });
    at += len;
  }
  if (at !== buf.length) throw new Error('bytes after the last rect');
  return { width, height, full: (buf[1]! & 1) === 1, rects };
}

function int(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new InputError(`${what} must be a whole number from ${min} to ${max}`);
  return v;
}

/** Parses one text message from the page into a ScreenInput; throws an InputError for anything else. */
export function parseInput(text: string): ScreenInput {
  if (Buffer.byteLength(text) > MAX_INPUT_MESSAGE) throw new InputError('input message too long');
  let v: unknown;
  try { v = JSON.parse(text); } catch { throw new InputError('input message is not JSON'); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError('input message is not a JSON object');
  const m = v as Record<string, unknown>;
  if (m.type === 'key') {
    const code = m.code;
    if (typeof code !== 'string' || code.length === 0 || code.length > MAX_KEY_CODE || !/^[A-Za-z0-9]+$/.test(code)) throw new InputError('key code must be a KeyboardEvent.code');
    if (typeof m.down !== 'boolean') throw new InputError('key down must be true or false');
    return { type: 'key', code, down: m.down };
  }
  if (m.type === 'pointer') {
    return { type: 'pointer', dx: int(m.dx, -MAX_DELTA, MAX_DELTA, 'dx'), dy: int(m.dy, -MAX_DELTA, MAX_DELTA, 'dy'), buttons: int(m.buttons, 0, 7, 'buttons') };
  }
  throw new InputError(`unknown input type '${String(m.type).slice(0, 32)}'`);
}
