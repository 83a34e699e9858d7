// Counts what the screen WebSocket delivers to a page over a window: the bytes
// of its frames as they travel (payload + the server's unmasked frame header)
// and, for the same updates, what VNC's Raw encoding would have sent for the
// same rects (its 4-byte FramebufferUpdate header, 12 bytes per rect, 4 bytes
// per pixel at 32 bpp). The rect sizes come from the updates' own headers
// (node/web/screen-wire.ts), so both figures describe one and the same stream.
import { decodeUpdate } from '../../node/web/screen-wire.js';

/** A rectangle of the guest's screen, in pixels. */
export interface Area { x: number; y: number; w: number; h: number }

export interface StreamTally {
  /** WebSocket frames received (binary updates and text state messages). */
  frames: number;
  /** Their bytes as sent by the server: payload plus WebSocket frame header. */
  wireBytes: number;
  /** Binary frames that decoded as screen updates. */
  updates: number;
  /** Of those, updates flagged full (the whole screen). */
  fullUpdates: number;
  rects: number;
  /** Pixels carried by the rects. */
  pixels: number;
  /** What VNC Raw encoding would send for the same updates. */
  rawBytes: number;
  /** Binary frames that were not a well-formed update (counted in wireBytes, not in rawBytes). */
  malformed: number;
  /** Pixels of the rects that lie inside `watch` (when given): proof that a region was streamed. */
  watchedPixels: number;
}

export function newTally(): StreamTally {
  return { frames: 0, wireBytes: 0, updates: 0, fullUpdates: 0, rects: 0, pixels: 0, rawBytes: 0, malformed: 0, watchedPixels: 0 };
}

/** Header bytes of an unmasked (server → client) WebSocket frame carrying `payload` bytes (RFC 6455 §5.2). */
export function wsHeaderBytes(payload: number): number {
  if (!(Number.isSafeInteger(payload) && payload >= 0)) throw new RangeError(`payload length ${payload}`);
  return payload < 126 ? 2 : payload <= 0xffff ? 4 : 10;
}

export const VNC_UPDATE_HEADER = 4;
export const VNC_RECT_HEADER = 12;
export const VNC_BYTES_PER_PIXEL = 4;

/** Bytes of one FramebufferUpdate in VNC Raw encoding at 32 bpp for these rects. */
export function vncRawBytes(rects: readonly { w: number; h: number }[]): number {
  let n = VNC_UPDATE_HEADER;
  for (const r of rects) n += VNC_RECT_HEADER + r.w * r.h * VNC_BYTES_PER_PIXEL;
  return n;
}

/** Pixels of `a` that lie inside `b`. */
export function overlapPixels(a: Area, b: Area): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Adds one received frame (playwright's framereceived payload: text as a string, binary as bytes). */
export function addFrame(t: StreamTally, payload: string | Uint8Array, watch?: Area): void {
  const len = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
  t.frames++;
  t.wireBytes += len + wsHeaderBytes(len);
  if (typeof payload === 'string') return;
  let u;
  try { u = decodeUpdate(payload); } catch { t.malformed++; return; }
  t.updates++;
  if (u.full) t.fullUpdates++;
  t.rects += u.rects.length;
  for (const r of u.rects) {
    t.pixels += r.w * r.h;
    if (watch) t.watchedPixels += overlapPixels(r, watch);
  }
  t.rawBytes += vncRawBytes(u.rects);
}

/** Bytes per second over a window of `ms` milliseconds. */
export function perSecond(bytes: number, ms: number): number {
  if (!(ms > 0)) throw new RangeError(`a window of ${ms} ms`);
  return (bytes * 1000) / ms;
}
