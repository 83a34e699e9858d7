// The page fingerprint that tells a received page "still what arrived" from "changed":
// any change within one 16-byte block must change it, whatever the page looked like.
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { FINGERPRINT_BYTES, PAGE_SIZE, pageFingerprint } from '../dirty-tracking/index.js';

function fp(page: Uint8Array): string {
  const out = new Uint8Array(FINGERPRINT_BYTES);
  pageFingerprint(page, out, 0);
  return Buffer.from(out).toString('hex');
}

describe('pageFingerprint', () => {
  it('is the same for the same content, wherever the page sits (aligned or not)', () => {
    const page = randomFillSync(new Uint8Array(PAGE_SIZE));
    const shifted = new Uint8Array(PAGE_SIZE + 3);
    shifted.set(page, 3);
    assert.equal(fp(page), fp(page.slice()));
    assert.equal(fp(page), fp(shifted.subarray(3)));
  });

  it('changes when any single bit of a page changes (random, zero and repeated-byte pages)', () => {
    const pages = [randomFillSync(new Uint8Array(PAGE_SIZE)), new Uint8Array(PAGE_SIZE), new Uint8Array(PAGE_SIZE).fill(0xa5)];
    for (const page of pages) {
      const before = fp(page);
      const seen = new Set<string>([before]);
      for (let byte = 0; byte < PAGE_SIZE; byte += 1) {
        const bit = 1 << (byte % 8);
        page[byte]! ^= bit;
        const after = fp(page);
        assert.notEqual(after, before, `flipping bit ${byte % 8} of byte ${byte} kept the fingerprint`);
        seen.add(after);
        page[byte]! ^= bit;
      }
      assert.equal(seen.size, PAGE_SIZE + 1, 'every one-bit change gives a fingerprint of its own');
      assert.equal(fp(page), before);
    }
  });

  it('tells apart pages that differ only by swapped words or blocks', () => {
    const page = randomFillSync(new Uint8Array(PAGE_SIZE));
    const swapped = page.slice();
    swapped.set(page.subarray(0, 16), 16); swapped.set(page.subarray(16, 32), 0);
    const words = page.slice();
    words.set(page.subarray(0, 4), 4); words.set(page.subarray(4, 8), 0);
    assert.notEqual(fp(swapped), fp(page));
    assert.notEqual(fp(words), fp(page));
  });

  it('writes exactly 16 bytes at the offset it is given and refuses wrong sizes', () => {
    const out = new Uint8Array(48).fill(0xee);
    pageFingerprint(new Uint8Array(PAGE_SIZE).fill(1), out, 16);
    assert.ok(out.subarray(0, 16).every((b) => b === 0xee) && out.subarray(32).every((b) => b === 0xee));
    assert.ok(out.subarray(16, 32).some((b) => b !== 0xee));
    assert.throws(() => pageFingerprint(new Uint8Array(PAGE_SIZE - 1), out, 0), RangeError);
    assert.throws(() => pageFingerprint(new Uint8Array(PAGE_SIZE), out, 40), RangeError);
  });
});
