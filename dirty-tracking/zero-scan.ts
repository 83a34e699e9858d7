// Which pages of a memory window are entirely zero. A zero page travels as one bit
// instead of 4 KiB, so the scan runs on every page sent and must be cheap: it reads
// 64-bit words (as BigUint64 when aligned, which V8 compares without allocating a
// BigInt for zero) and stops at the first non-zero word.
import { PAGE_SIZE } from './bitmap.js';

const ZERO = 0n;

/** True when the 4 KiB page at byte `offset` of `mem` is all zero bytes. */
export function isZeroPage(mem: Uint8Array, offset: number): boolean {
  if (offset < 0 || offset + PAGE_SIZE > mem.byteLength) throw new RangeError(`isZeroPage: page at ${offset} outside ${mem.byteLength}-byte window`);
  const abs = mem.byteOffset + offset;
  if (abs % 8 === 0) {
    const w = new Float64Array(mem.buffer, abs, PAGE_SIZE / 8);
    // Float64 compare: a word whose bits are all zero is +0; -0 (sign bit only)
    // also compares equal to 0, so check the sign explicitly with Object.is.
    for (let i = 0; i < w.length; i++) {
      const v = w[i]!;
      if (v !== 0 || Object.is(v, -0)) return false;
    }
    return true;
  }
  if (abs % 4 === 0) {
    const w = new Uint32Array(mem.buffer, abs, PAGE_SIZE / 4);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < PAGE_SIZE; i++) if (mem[offset + i] !== 0) return false;
  return true;
}

/** Same check through BigUint64 words (kept for callers that want exact 64-bit semantics). */
export function isZeroPageU64(mem: Uint8Array, offset: number): boolean {
  const abs = mem.byteOffset + offset;
  if (abs % 8 !== 0) return isZeroPage(mem, offset);
  const w = new BigUint64Array(mem.buffer, abs, PAGE_SIZE / 8);
  for (let i = 0; i < w.length; i++) if (w[i] !== ZERO) return false;
  return true;
}

/**
 * Scan `count` pages of `mem` starting at page `firstPage` of the window; for each
 * zero page call `onZero(pageIndexInWindow)`. Returns the number of zero pages.
 */
export function scanZeroPages(mem: Uint8Array, firstPage: number, count: number, onZero: (page: number) => void): number {
  let n = 0;
  for (let p = firstPage; p < firstPage + count; p++) {
    if (isZeroPage(mem, p * PAGE_SIZE)) { onZero(p); n++; }
  }
  return n;
}
