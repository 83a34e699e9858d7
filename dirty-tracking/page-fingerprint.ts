// A 128-bit fingerprint of one 4 KiB page: "is this page still what it was?" for pages
// a receiver wrote (node/vm-host/arrival-fingerprints.ts). It runs on every page a
// migration writes, so it must cost far less than moving the page: SHA-256 through
// node:crypto took ~20 µs a page on these hosts (no SHA extensions; a hash object and a
// digest Buffer per page) and was half of a receiver's CPU time; this takes ~3 µs and
// allocates nothing.
//
// The mixing follows MurmurHash3's x86 128-bit variant (four 32-bit lanes, each word
// multiplied, rotated and folded into its lane, lanes added into each other after every
// 16 bytes, a final avalanche); it is not bit-compatible with any published hash and
// never leaves this process. Every step of a block is invertible, so a change within
// one 16-byte block always changes the result; wider changes go unnoticed only if all
// 128 bits happen to agree. It is not cryptographic: a guest could craft a page that
// matches its own earlier content, and the only effect is that its own return trip
// hands it that earlier content back.
import { PAGE_SIZE } from './bitmap.js';

export const FINGERPRINT_BYTES = 16;

const C1 = 0x239b961b, C2 = 0xab0e9789, C3 = 0x38b34ae5, C4 = 0xa1e38b93;
const WORDS = PAGE_SIZE / 4;

/** Holds a page that does not sit at a 4-byte boundary, so it can be read as words. */
const aligned = new Uint32Array(WORDS);
const alignedBytes = new Uint8Array(aligned.buffer);
const result = new Uint32Array(4);
const resultBytes = new Uint8Array(result.buffer);

function avalanche(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Writes the 16-byte fingerprint of `page` (exactly 4096 bytes) to `out[at .. at+16)`. */
export function pageFingerprint(page: Uint8Array, out: Uint8Array, at: number): void {
  if (page.byteLength !== PAGE_SIZE) throw new RangeError(`pageFingerprint: ${page.byteLength} bytes, a page is ${PAGE_SIZE}`);
  if (at < 0 || at + FINGERPRINT_BYTES > out.byteLength) throw new RangeError(`pageFingerprint: no room for ${FINGERPRINT_BYTES} bytes at ${at}`);
  let u: Uint32Array;
  if (page.byteOffset % 4 === 0) u = new Uint32Array(page.buffer, page.byteOffset, WORDS);
  else { alignedBytes.set(page); u = aligned; }
  let h1 = 0, h2 = 0, h3 = 0, h4 = 0;
  for (let i = 0; i < WORDS; i += 4) {
    let k1 = u[i]!, k2 = u[i + 1]!, k3 = u[i + 2]!, k4 = u[i + 3]!;
    k1 = Math.imul(k1, C1); k1 = (k1 << 15) | (k1 >>> 17); h1 ^= Math.imul(k1, C2);
    h1 = (h1 << 19) | (h1 >>> 13); h1 = (h1 + h2) | 0; h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;
    k2 = Math.imul(k2, C2); k2 = (k2 << 16) | (k2 >>> 16); h2 ^= Math.imul(k2, C3);
    h2 = (h2 << 17) | (h2 >>> 15); h2 = (h2 + h3) | 0; h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
    k3 = Math.imul(k3, C3); k3 = (k3 << 17) | (k3 >>> 15); h3 ^= Math.imul(k3, C4);
    h3 = (h3 << 15) | (h3 >>> 17); h3 = (h3 + h4) | 0; h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;
    k4 = Math.imul(k4, C4); k4 = (k4 << 18) | (k4 >>> 14); h4 ^= Math.imul(k4, C1);
    h4 = (h4 << 13) | (h4 >>> 19); h4 = (h4 + h1) | 0; h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }
  h1 ^= PAGE_SIZE; h2 ^= PAGE_SIZE; h3 ^= PAGE_SIZE; h4 ^= PAGE_SIZE;
  h1 = (h1 + h2 + h3 + h4) | 0; h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
  h1 = avalanche(h1); h2 = avalanche(h2); h3 = avalanche(h3); h4 = avalanche(h4);
  h1 = (h1 + h2 + h3 + h4) | 0; h2 = (h2 + h1) | 0; h3 = (h3 + h1) | 0; h4 = (h4 + h1) | 0;
  result[0] = h1; result[1] = h2; result[2] = h3; result[3] = h4;
  out.set(resultBytes, at);
}
