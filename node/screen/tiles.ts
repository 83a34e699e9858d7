// Which parts of the screen one viewer needs: the framebuffer is compared, in
// tiles, against the copy of what that viewer last received, but only on the
// scanlines the guest wrote since (the damage bitmap). Changed tiles next to
// each other in a tile row go as one rect. The pixels of each rect are copied
// out once: the same bytes go into the viewer's copy and to the encoder, so the
// copy is exactly what the viewer holds even while the guest keeps drawing.

export const TILE = 64;
const BPP = 4;

export interface FrameGeometry { width: number; height: number; stride: number }

/** A rect of raw pixels: w*h*4 bytes, rows top to bottom, the framebuffer's B,G,R,X. */
export interface RawRect { x: number; y: number; w: number; h: number; pixels: Uint8Array }

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Bit i of a little-endian bitmap. */
export function bitSet(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3] ?? 0) >> (i & 7) & 1) === 1;
}

export function checkGeometry(g: FrameGeometry): void {
  const ok = (v: number, max: number) => Number.isSafeInteger(v) && v >= 1 && v <= max;
  if (!ok(g.width, 8192) || !ok(g.height, 8192) || !Number.isSafeInteger(g.stride) || g.stride < g.width * BPP || g.stride > 8192 * BPP) {
    throw new RangeError(`framebuffer geometry ${g.width}x${g.height} stride ${g.stride} is not usable`);
  }
}

/** What one viewer last received. */
export class SentFrame {
  private copy: Buffer | null = null;
  private readonly row: number;

  constructor(readonly geom: FrameGeometry) {
    checkGeometry(geom);
    this.row = geom.width * BPP;
  }

  /** Whether this viewer has received a first, full frame yet. */
  get started(): boolean { return this.copy !== null; }

  /** The whole screen, one rect per tile row; becomes this viewer's copy. */
  full(fb: Uint8Array): RawRect[] {
    this.checkFb(fb);
    this.copy = Buffer.alloc(this.row * this.geom.height);
    const out: RawRect[] = [];
    for (let y = 0; y < this.geom.height; y += TILE) out.push(this.take(asBuffer(fb), 0, y, this.geom.width, Math.min(TILE, this.geom.height - y)));
    return out;
  }

  /** Rects of the tiles that differ from this viewer's copy on the damaged scanlines (bit i = scanline i). */
  changed(fb: Uint8Array, damage: Uint8Array): RawRect[] {
    if (!this.copy) return this.full(fb);
    this.checkFb(fb);
    const { width, height, stride } = this.geom;
    const src = asBuffer(fb);
    const cols = Math.ceil(width / TILE);
    const dirty = new Uint8Array(cols);
    const out: RawRect[] = [];
    for (let ty = 0; ty < height; ty += TILE) {
      const th = Math.min(TILE, height - ty);
      dirty.fill(0);
      let any = false;
      for (let y = ty; y < ty + th; y++) {
        if (!bitSet(damage, y)) continue;
        for (let c = 0; c < cols; c++) {
          if (dirty[c]) continue;
          const x = c * TILE; const n = Math.min(TILE, width - x) * BPP;
          const a = y * stride + x * BPP; const b = y * this.row + x * BPP;
          if (src.compare(this.copy, b, b + n, a, a + n) !== 0) { dirty[c] = 1; any = true; }
        }
      }
      if (!any) continue;
      for (let c = 0; c < cols;) {
        if (!dirty[c]) { c++; continue; }
        let end = c;
        while (end < cols && dirty[end]) end++;
        const x = c * TILE;
        out.push(this.take(src, x, ty, Math.min(end * TILE, width) - x, th));
        c = end;
      }
    }
    return out;
  }

  /** Copies a rect out of the framebuffer into a packed buffer and into this viewer's copy. */
  private take(src: Buffer, x: number, y: number, w: number, h: number): RawRect {
    const { stride } = this.geom;
    const n = w * BPP;
    const pixels = Buffer.allocUnsafe(n * h);
    for (let r = 0; r < h; r++) {
      const a = (y + r) * stride + x * BPP;
      src.copy(pixels, r * n, a, a + n);
      pixels.copy(this.copy!, (y + r) * this.row + x * BPP, r * n, r * n + n);
    }
    return { x, y, w, h, pixels };
  }

  private checkFb(fb: Uint8Array): void {
    const need = this.geom.stride * (this.geom.height - 1) + this.row;
    if (fb.byteLength < need) throw new RangeError(`framebuffer view holds ${fb.byteLength} bytes, the geometry needs ${need}`);
  }
}
