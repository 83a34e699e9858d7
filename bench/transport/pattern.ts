// The bytes every transport carries: pages like the probe guest's (a share `entropy`
// of each 4 KiB page random, the rest one repeated word), in one block that is sent
// over and over, so a 1 GiB transfer needs no 1 GiB buffer. The block is larger than
// zstd's window, so repetition does not help compression.
import { randomFillSync } from 'node:crypto';

export const PAGE = 4096;
export const BLOCK_BYTES = 16 * 2 ** 20;

/** `bytes` (a multiple of 4096) of guest-like pages: per page, `entropy` × 4096 random bytes, then a repeated word. */
export function guestLikePages(bytes: number, entropy: number): Uint8Array {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes % PAGE !== 0) throw new RangeError(`pattern size ${bytes} is not a positive multiple of ${PAGE}`);
  if (!(entropy >= 0 && entropy <= 1)) throw new RangeError(`entropy ${entropy} is outside 0..1`);
  const out = new Uint8Array(bytes);
  const random = Math.floor((entropy * PAGE) / 8) * 8;
  const words = new DataView(out.buffer);
  for (let p = 0; p < bytes / PAGE; p++) {
    const base = p * PAGE;
    if (random) randomFillSync(out, base, random);
    const fill = 0x5a5a5a5a ^ p;
    for (let off = base + random; off < base + PAGE; off += 4) words.setUint32(off, fill, true);
  }
  return out;
}
