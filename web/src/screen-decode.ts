// The screen update messages of /ws/screen/<vm> (format: node/web/screen-wire.ts):
// parsed with every length checked, rects inflated with the browser's own
// DecompressionStream('deflate-raw') and turned from the framebuffer's
// B,G,R,X bytes into the canvas's R,G,B,A.

export interface Rect { x: number; y: number; w: number; h: number; data: Uint8Array<ArrayBuffer> }
export interface Update { width: number; height: number; full: boolean; rects: Rect[] }

const HEADER = 8;
const RECT_HEADER = 12;

export function parseUpdate(buf: ArrayBuffer): Update {
  const v = new DataView(buf);
  if (buf.byteLength < HEADER || v.getUint8(0) !== 1) throw new Error('not a screen update');
  const width = v.getUint16(2, true), height = v.getUint16(4, true), n = v.getUint16(6, true);
  const rects: Rect[] = [];
  let at = HEADER;
  for (let i = 0; i < n; i++) {
    if (at + RECT_HEADER > buf.byteLength) throw new Error('update ends inside a rect header');
    const x = v.getUint16(at, true), y = v.getUint16(at + 2, true), w = v.getUint16(at + 4, true), h = v.getUint16(at + 6, true);
    const len = v.getUint32(at + 8, true);
    at += RECT_HEADER;
    if (at + len > buf.byteLength) throw new Error('update ends inside rect data');
    if (w === 0 || h === 0 || x + w > width || y + h > height) throw new Error('rect outside the screen');
    rects.push({ x, y, w, h, data: new Uint8Array(buf, at, len) });
    at += len;
  }
  return { width, height, full: (v.getUint8(1) & 1) === 1, rects };
}

export async function inflate(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** B,G,R,X → R,G,B,A (opaque). */
export function bgrxToRgba(src: Uint8Array, out: Uint8ClampedArray): void {
  for (let i = 0; i < out.length; i += 4) {
    out[i] = src[i + 2]!;
    out[i + 1] = src[i + 1]!;
    out[i + 2] = src[i]!;
    out[i + 3] = 255;
  }
}

/** Draws one update; a rect whose pixels do not add up is skipped, the others still drawn. */
export async function drawUpdate(ctx: CanvasRenderingContext2D, u: Update): Promise<void> {
  const canvas = ctx.canvas;
  if (canvas.width !== u.width || canvas.height !== u.height) { canvas.width = u.width; canvas.height = u.height; }
  const pixels = await Promise.all(u.rects.map((r) => inflate(r.data).catch(() => null)));
  u.rects.forEach((r, i) => {
    const p = pixels[i];
    if (!p || p.length !== r.w * r.h * 4) return;
    const img = ctx.createImageData(r.w, r.h);
    bgrxToRgba(p, img.data);
    ctx.putImageData(img, r.x, r.y);
  });
}
