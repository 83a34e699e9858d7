import assert from 'node:assert/strict';
import { DirtyBitmap, SinceArrival, isZeroPage, isZeroPageU64, scanZeroPages, popcount32 } from '../dirty-tracking/index.js';

/** Deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

describe('dirty-tracking: DirtyBitmap', () => {
  it('set/test/unset/count agree with a plain boolean array, runs() equals brute-force runs', () => {
    const r = rng(7);
    for (const pages of [1, 31, 32, 63, 64, 65, 200, 1000, 4097]) {
      const b = new DirtyBitmap(pages);
      const ref = new Array<boolean>(pages).fill(false);
      for (let k = 0; k < pages; k++) {
        const p = Math.floor(r() * pages);
        if (r() < 0.7) { b.set(p); ref[p] = true; } else { b.unset(p); ref[p] = false; }
      }
      // add some long runs crossing word boundaries
      const s = Math.floor(r() * pages), n = Math.min(pages - s, 1 + Math.floor(r() * 150));
      b.setRange(s, n); for (let i = s; i < s + n; i++) ref[i] = true;
      assert.equal(b.count(), ref.filter(Boolean).length, `count for ${pages}`);
      for (let i = 0; i < pages; i++) assert.equal(b.test(i), ref[i], `page ${i} of ${pages}`);
      const want: [number, number][] = [];
      for (let i = 0; i < pages; i++) {
        if (!ref[i]) continue;
        let j = i; while (j < pages && ref[j]) j++;
        want.push([i, j - i]); i = j;
      }
      assert.deepEqual([...b.runs()], want, `runs for ${pages}`);
      // restricted ranges agree too
      const from = Math.floor(r() * pages), to = from + Math.floor(r() * (pages - from + 1));
      let cnt = 0; for (let i = from; i < to; i++) if (ref[i]) cnt++;
      assert.equal(b.countRange(from, to - from), cnt);
    }
  });

  it('merges (OR) raw dirty-log words and drops bits beyond the page count', () => {
    const b = new DirtyBitmap(70);
    const raw = new Uint8Array(DirtyBitmap.byteLength(70));
    raw.fill(0xff);
    b.mergeBytes(raw);
    assert.equal(b.count(), 70, 'bits 70..127 of a hostile log must not count');
    const c = new DirtyBitmap(70); c.set(3); c.set(69);
    const d = new DirtyBitmap(70); d.set(3); d.set(40);
    c.merge(d);
    assert.deepEqual([...c.pagesSet()], [3, 40, 69]);
    c.clear();
    assert.ok(c.isEmpty());
    assert.throws(() => c.merge(new DirtyBitmap(71)), /differ in size/);
  });

  it('stores bits as little-endian u64 words (bit i = page i), as the native dirty log does', () => {
    const b = new DirtyBitmap(128);
    b.set(0); b.set(63); b.set(64);
    const w = new DataView(b.bytes.buffer);
    assert.equal(w.getBigUint64(0, true), (1n << 63n) | 1n);
    assert.equal(w.getBigUint64(8, true), 1n);
  });

  it('refuses pages outside the bitmap', () => {
    const b = new DirtyBitmap(10);
    assert.throws(() => b.set(10), RangeError);
    assert.throws(() => b.test(-1), RangeError);
    assert.throws(() => b.setRange(5, 6), RangeError);
  });

  it('popcount32 matches a bit loop', () => {
    const r = rng(3);
    for (let k = 0; k < 1000; k++) {
      const v = Math.floor(r() * 2 ** 32);
      let n = 0; for (let i = 0; i < 32; i++) if (v & (1 << i)) n++;
      assert.equal(popcount32(v), n);
    }
  });
});

describe('dirty-tracking: zero-page scan', () => {
  it('finds exactly the zero pages, including a single non-zero byte anywhere and a -0.0 bit pattern', () => {
    const mem = new Uint8Array(16 * 4096);
    mem[1 * 4096 + 4095] = 1;       // last byte of page 1
    mem[3 * 4096] = 0x80;           // first byte of page 3
    new DataView(mem.buffer).setFloat64(5 * 4096 + 8, -0); // sign bit only: must not look zero
    mem[9 * 4096 + 2000] = 7;
    const zero: number[] = [];
    const n = scanZeroPages(mem, 0, 16, (p) => zero.push(p));
    assert.deepEqual(zero, [0, 2, 4, 6, 7, 8, 10, 11, 12, 13, 14, 15]);
    assert.equal(n, 12);
    for (let p = 0; p < 16; p++) assert.equal(isZeroPageU64(mem, p * 4096), zero.includes(p));
    // unaligned views take the slow path and agree
    const un = new Uint8Array(mem.buffer, 1, 4096 * 2);
    assert.equal(isZeroPage(un, 0), true);
    assert.throws(() => isZeroPage(mem, 16 * 4096), RangeError);
  });
});

describe('dirty-tracking: SinceArrival', () => {
  it('accumulates every dirty-log read per slot', () => {
    const a = new SinceArrival(4, [{ slot: 0, pages: 100 }, { slot: 1, pages: 10 }]);
    const log = new Uint8Array(DirtyBitmap.byteLength(100));
    log[0] = 0b101;
    a.recordLog(0, log);
    log.fill(0); log[1] = 1;         // page 8
    a.recordLog(0, log);
    a.markRange(1, 2, 3);
    assert.deepEqual([...a.bitmap(0).pagesSet()], [0, 2, 8]);
    assert.equal(a.count(), 6);
    assert.equal(a.generation, 4);
    assert.throws(() => a.recordLog(2, log), /no slot 2/);
  });
});
