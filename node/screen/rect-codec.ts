// Rect pixels ⇄ raw deflate. Compression runs in libuv's thread pool (zlib's
// async API), so the event loop only copies pixels; the rects of one update are
// compressed in parallel. Decoding is bounded: a rect never inflates beyond
// its own w*h*4 bytes, whatever its data says.
import { deflateRaw, inflateRawSync, constants } from 'node:zlib';
import { promisify } from 'node:util';
import type { RawRect } from './tiles.js';
import type { ScreenRect, ScreenUpdate } from './types.js';

const deflateRawAsync = promisify(deflateRaw);
/** Screens are mostly flat colour and text: level 1 keeps most of the gain at a fraction of the time (see README). */
export const DEFLATE_LEVEL = 1;

export async function encodeRects(rects: RawRect[]): Promise<ScreenRect[]> {
  return Promise.all(rects.map(async (r) => ({
    x: r.x, y: r.y, w: r.w, h: r.h,
    data: new Uint8Array(await deflateRawAsync(r.pixels, { level: DEFLATE_LEVEL, strategy: constants.Z_DEFAULT_STRATEGY })),
  })));
}

/** A rect's pixels (w*h*4 bytes); throws when the data is not deflate or inflates to another size. */
export function decodeRect(r: ScreenRect): Buffer {
  const want = r.w * r.h * 4;
  let out: Buffer;
  try {
    out = inflateRawSync(r.data, { maxOutputLength: Math.max(1, want) });
  } catch (e) {
    throw new RangeError(`rect ${r.w}x${r.h} at ${r.x},${r.y}: data does not inflate to ${want} bytes (${(e as Error).message})`);
  }
  if (out.length !== want) throw new RangeError(`rect ${r.w}x${r.h} at ${r.x},${r.y}: inflates to ${out.length} bytes, not ${want}`);
  return out;
}

/** Applies an update to a packed width*height*4 screen (what a viewer holds); checks every rect against it. */
export function applyUpdate(screen: Uint8Array, width: number, height: number, u: ScreenUpdate): void {
  if (u.width !== width || u.height !== height) throw new RangeError(`update is ${u.width}x${u.height}, the screen ${width}x${height}`);
  if (screen.byteLength < width * height * 4) throw new RangeError('screen buffer too small');
  for (const r of u.rects) {
    if (r.x < 0 || r.y < 0 || r.w < 1 || r.h < 1 || r.x + r.w > width || r.y + r.h > height) throw new RangeError(`rect ${r.w}x${r.h} at ${r.x},${r.y} lies outside the screen`);
    const px = decodeRect(r);
    const n = r.w * 4;
    for (let row = 0; row < r.h; row++) screen.set(px.subarray(row * n, row * n + n), ((r.y + row) * width + r.x) * 4);
  }
}
