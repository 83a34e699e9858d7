// Region hashes: a short hash per fixed-size region of guest memory, in layout order
// (slot by slot, each slot cut into regions). They prove a kept image still matches.
import { createHash } from 'node:crypto';
import { PAGE } from './frames.js';
import type { SlotLayout } from './vm-handle.js';

export const REGION_BYTES = 1 << 20;

export interface Region { index: number; slot: number; firstPage: number; pages: number }

export function regions(layout: SlotLayout[], regionBytes = REGION_BYTES): Region[] {
  const out: Region[] = [];
  const per = regionBytes / PAGE;
  for (const s of layout) {
    const pages = s.size / PAGE;
    for (let p = 0; p < pages; p += per) out.push({ index: out.length, slot: s.slot, firstPage: p, pages: Math.min(per, pages - p) });
  }
  return out;
}

/** base64 of the first 16 bytes of SHA-256 over the parts, in order. */
export function hashParts(parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest().subarray(0, 16).toString('base64');
}

/** Views of a region's bytes across a slot's windows (no copy). */
export function regionViews(windows: Uint8Array[], firstPage: number, pages: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let base = 0, from = firstPage * PAGE, left = pages * PAGE;
  for (const w of windows) {
    if (left === 0) break;
    if (from < base + w.byteLength) {
      const off = Math.max(0, from - base);
      const n = Math.min(w.byteLength - off, left);
      out.push(w.subarray(off, off + n));
      left -= n; from += n;
    }
    base += w.byteLength;
  }
  if (left !== 0) throw new RangeError('region outside the slot windows');
  return out;
}
