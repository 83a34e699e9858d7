// The page's picture of the screen, rebuilt from the same updates, to see
// which pixels each update really changed. roam sends whole 64x64 tiles (and
// every pixel of a tile that changed at all), so "VNC Raw of roam's rects"
// counts more than a server with finer damage would send: QEMU's VNC server,
// for one, tracks 16-pixel column groups. The tighter figure here is VNC Raw
// of the bounding box of the pixels that changed within each rect.
import { decodeRect } from '../../node/screen/rect-codec.js';
import type { ScreenUpdate } from '../../node/web/screen-port.js';
import { VNC_BYTES_PER_PIXEL, VNC_RECT_HEADER, VNC_UPDATE_HEADER } from './stream-tally.js';

export interface Box { x: number; y: number; w: number; h: number }

/** The box of pixels where `next` (w*h*4 bytes, rows packed) differs from the picture under rect `r`; null when nothing differs. */
export function changedBox(picture: Uint8Array, width: number, r: Box, next: Uint8Array): Box | null {
  const row = r.w * 4;
  let top = -1, bottom = -1, left = r.w, right = -1;
  for (let y = 0; y < r.h; y++) {
    const at = ((r.y + y) * width + r.x) * 4;
    const was = picture.subarray(at, at + row);
    const now = next.subarray(y * row, y * row + row);
    if (Buffer.compare(was, now) === 0) continue;
    if (top < 0) top = y;
    bottom = y;
    // The changed span of this row: scan in from both ends (X bytes count too: they are the guest's bytes).
    let a = 0;
    while (a < left && was[a * 4] === now[a * 4] && was[a * 4 + 1] === now[a * 4 + 1] && was[a * 4 + 2] === now[a * 4 + 2] && was[a * 4 + 3] === now[a * 4 + 3]) a++;
    let b = r.w - 1;
    while (b > right && was[b * 4] === now[b * 4] && was[b * 4 + 1] === now[b * 4 + 1] && was[b * 4 + 2] === now[b * 4 + 2] && was[b * 4 + 3] === now[b * 4 + 3]) b--;
    left = Math.min(left, a);
    right = Math.max(right, b);
  }
  if (top < 0) return null;
  return { x: r.x + left, y: r.y + top, w: right - left + 1, h: bottom - top + 1 };
}

/** A viewer's copy of the screen; `apply` returns what VNC Raw would send for the pixels the update changed. */
export class ScreenModel {
  private width = 0;
  private height = 0;
  private picture = new Uint8Array(0);

  apply(u: ScreenUpdate): { changedPixels: number; changedRawBytes: number } {
    if (u.width !== this.width || u.height !== this.height) {
      this.width = u.width; this.height = u.height;
      this.picture = new Uint8Array(u.width * u.height * 4);
    }
    let changedPixels = 0, rects = 0;
    for (const r of u.rects) {
      if (r.x + r.w > this.width || r.y + r.h > this.height) throw new RangeError(`rect ${r.w}x${r.h} at ${r.x},${r.y} outside the screen`);
      const px = decodeRect(r);
      const box = changedBox(this.picture, this.width, r, px);
      if (box) { changedPixels += box.w * box.h; rects++; }
      const row = r.w * 4;
      for (let y = 0; y < r.h; y++) this.picture.set(px.subarray(y * row, y * row + row), ((r.y + y) * this.width + r.x) * 4);
    }
    // An update that changed nothing would not be sent at all.
    const changedRawBytes = rects ? VNC_UPDATE_HEADER + rects * VNC_RECT_HEADER + changedPixels * VNC_BYTES_PER_PIXEL : 0;
    return { changedPixels, changedRawBytes };
  }
}
