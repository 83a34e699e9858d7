// A bitmap of 4 KiB guest pages: bit i = page i, stored as little-endian u64 words
// exactly as KVM's dirty log (and native NativeVm.dirtyLog) hands them out, so a
// dirty-log read lands in a DirtyBitmap's bytes without conversion.
//
// Bit work goes through a Uint32Array view of the same buffer: JS has no 64-bit
// integer type short of BigInt (slow), and on a little-endian host (x86-64, arm64,
// the only hosts KVM runs on for us) u64 word w is u32 words 2w (low) and 2w+1 (high).
// Scans still step one 64-bit word (two u32 halves) at a time.

export const PAGE_SIZE = 4096;
export const PAGE_SHIFT = 12;

/** Number of set bits in a 32-bit value (SWAR popcount). */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Index of the lowest set bit of a non-zero 32-bit value. */
function lowestBit(v: number): number {
  return 31 - Math.clz32(v & -v);
}

export class DirtyBitmap {
  /** Pages covered; bits at and beyond `pages` are always zero. */
  readonly pages: number;
  /** The whole bitmap as bytes: ceil(pages/64) little-endian u64 words. */
  readonly bytes: Uint8Array;
  private readonly u32: Uint32Array;

  constructor(pages: number, backing?: Uint8Array) {
    if (!Number.isSafeInteger(pages) || pages < 0) throw new RangeError(`DirtyBitmap: page count must be a non-negative integer, got ${pages}`);
    this.pages = pages;
    const nbytes = DirtyBitmap.byteLength(pages);
    if (backing) {
      if (backing.byteLength !== nbytes) throw new RangeError(`DirtyBitmap: backing is ${backing.byteLength} bytes, ${pages} pages need ${nbytes}`);
      if (backing.byteOffset % 4 !== 0) throw new RangeError('DirtyBitmap: backing must be 4-byte aligned');
      this.bytes = backing;
    } else {
      this.bytes = new Uint8Array(nbytes);
    }
    this.u32 = new Uint32Array(this.bytes.buffer, this.bytes.byteOffset, nbytes / 4);
  }

  /** Bytes a bitmap of `pages` pages occupies (whole u64 words). */
  static byteLength(pages: number): number {
    return Math.ceil(pages / 64) * 8;
  }

  private check(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.pages) throw new RangeError(`page ${page} outside bitmap of ${this.pages} pages`);
  }

  set(page: number): void {
    this.check(page);
    this.u32[page >>> 5]! |= 1 << (page & 31);
  }

  unset(page: number): void {
    this.check(page);
    this.u32[page >>> 5]! &= ~(1 << (page & 31));
  }

  test(page: number): boolean {
    this.check(page);
    return (this.u32[page >>> 5]! & (1 << (page & 31))) !== 0;
  }

  /** Set pages [first, first+count). */
  setRange(first: number, count: number): void {
    if (count <= 0) return;
    this.check(first); this.check(first + count - 1);
    let p = first;
    const end = first + count;
    while (p < end && (p & 31) !== 0) { this.u32[p >>> 5]! |= 1 << (p & 31); p++; }
    while (p + 32 <= end) { this.u32[p >>> 5] = 0xffffffff; p += 32; }
    while (p < end) { this.u32[p >>> 5]! |= 1 << (p & 31); p++; }
  }

  setAll(): void {
    if (this.pages > 0) this.setRange(0, this.pages);
  }

  clear(): void {
    this.u32.fill(0);
  }

  /** this |= other (same page count). */
  merge(other: DirtyBitmap): void {
    if (other.pages !== this.pages) throw new RangeError(`merge: bitmaps differ in size (${this.pages} vs ${other.pages} pages)`);
    this.mergeWords(other.u32);
  }

  /** this |= raw dirty-log bytes (u64 LE words); bits past `pages` are dropped. */
  mergeBytes(raw: Uint8Array): void {
    if (raw.byteLength !== this.bytes.byteLength) throw new RangeError(`mergeBytes: ${raw.byteLength} bytes, expected ${this.bytes.byteLength}`);
    const words = raw.byteOffset % 4 === 0
      ? new Uint32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
      : new Uint32Array(raw.slice().buffer);
    this.mergeWords(words);
  }

  private mergeWords(words: Uint32Array): void {
    const u = this.u32;
    for (let i = 0; i < u.length; i++) u[i]! |= words[i]!;
    this.trimTail();
  }

  /** Zero any bits beyond `pages` (a hostile or sloppy source may set them). */
  private trimTail(): void {
    const rem = this.pages & 31;
    const lastWord = this.pages >>> 5;
    if (rem !== 0) this.u32[lastWord]! &= (1 << rem) - 1;
    for (let i = rem === 0 ? lastWord : lastWord + 1; i < this.u32.length; i++) this.u32[i] = 0;
  }

  /** Number of set pages. */
  count(): number {
    let n = 0;
    const u = this.u32;
    for (let i = 0; i < u.length; i += 2) {
      const lo = u[i]!, hi = u[i + 1]!;
      if ((lo | hi) === 0) continue;
      n += popcount32(lo) + popcount32(hi);
    }
    return n;
  }

  /** Set pages within [first, first+count). */
  countRange(first: number, count: number): number {
    let n = 0;
    for (const [s, len] of this.runs(first, first + count)) n += len;
    return n;
  }

  isEmpty(): boolean {
    const u = this.u32;
    for (let i = 0; i < u.length; i++) if (u[i] !== 0) return false;
    return true;
  }

  /**
   * Runs of consecutive set pages as [firstPage, length], in order, restricted to
   * [from, to). Whole zero 64-bit words are skipped in one step.
   */
  *runs(from = 0, to = this.pages): Generator<[number, number]> {
    from = Math.max(0, from); to = Math.min(this.pages, to);
    const u = this.u32;
    let runStart = -1;
    let p = from;
    while (p < to) {
      const wi = p >>> 5;
      let w = u[wi]! >>> (p & 31);
      if (runStart < 0) {
        // Skip whole clear 64-bit words quickly when aligned on one.
        if ((p & 63) === 0 && (u[wi]! | u[wi + 1]!) === 0) { p += 64; continue; }
        if (w === 0) { p = (wi + 1) << 5; continue; }
        p += lowestBit(w);
        if (p >= to) break;
        runStart = p;
        w = u[p >>> 5]! >>> (p & 31);
      }
      // Inside a run: find the first clear bit at or after p.
      const inv = ~w >>> 0;
      const bitsLeftInWord = 32 - (p & 31);
      const masked = bitsLeftInWord === 32 ? inv : inv & ((1 << bitsLeftInWord) - 1);
      if (masked === 0) { p = (wi + 1) << 5; continue; }
      p += lowestBit(masked);
      const end = Math.min(p, to);
      yield [runStart, end - runStart];
      runStart = -1;
    }
    if (runStart >= 0) yield [runStart, Math.min(p, to) - runStart];
  }

  /** Every set page in order. */
  *pagesSet(): Generator<number> {
    for (const [s, n] of this.runs()) for (let i = 0; i < n; i++) yield s + i;
  }

  clone(): DirtyBitmap {
    const b = new DirtyBitmap(this.pages);
    b.bytes.set(this.bytes);
    return b;
  }
}
