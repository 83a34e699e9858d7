// FastCDC content-defined chunking (Xia et al., 2016) with normalized chunking:
// a harder mask before the normal size and an easier one after it pull chunk
// sizes towards the average, so an edit shifts at most one or two boundaries.
import { open } from 'node:fs/promises';
import { GEAR } from './gear.js';

export const MIN_CHUNK = 16 * 1024;
export const AVG_CHUNK = 64 * 1024;
export const MAX_CHUNK = 256 * 1024;

// The rolling hash shifts left one bit per byte, so its top bits depend on the
// last 32 bytes: masks take their bits from the top. log2(64 KiB) = 16 bits; two
// levels of normalization give 18 bits below the average and 14 above it.
function topBits(n: number): number { return (0xffffffff << (32 - n)) >>> 0; }
const MASK_HARD = topBits(18);
const MASK_EASY = topBits(14);

/**
 * Length of the first chunk of buf[start, end). With eof false, returns -1 when
 * the data may continue past `end` and no boundary was found yet (the caller
 * must supply more bytes); never cuts past MAX_CHUNK.
 */
export function findBoundary(buf: Uint8Array, start: number, end: number, eof: boolean): number {
  const n = end - start;
  if (n <= MIN_CHUNK) return eof ? n : (n === MAX_CHUNK ? n : -1);
  const limit = Math.min(n, MAX_CHUNK);
  const normal = Math.min(limit, AVG_CHUNK);
  let h = 0;
  let i = MIN_CHUNK;
  for (; i < normal; i++) {
    h = ((h << 1) + GEAR[buf[start + i]!]!) >>> 0;
    if ((h & MASK_HARD) === 0) return i + 1;
  }
  for (; i < limit; i++) {
    h = ((h << 1) + GEAR[buf[start + i]!]!) >>> 0;
    if ((h & MASK_EASY) === 0) return i + 1;
  }
  if (limit === MAX_CHUNK || eof) return limit;
  return -1;
}

/** Chunk lengths of an in-memory buffer (tests and small objects). */
export function chunkBuffer(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = findBoundary(buf, pos, buf.length, true);
    out.push(buf.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

const READ_BLOCK = 4 * 1024 * 1024;

/**
 * Streams the chunks of a file without holding more than a few MiB of it.
 * Each yielded buffer is a fresh copy the caller may keep.
 */
export async function* chunkFile(path: string): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(READ_BLOCK + MAX_CHUNK);
    let start = 0;
    let end = 0;
    let eof = false;
    for (;;) {
      if (!eof && end - start < MAX_CHUNK) {
        if (start > 0) { buf.copy(buf, 0, start, end); end -= start; start = 0; }
        while (!eof && end < buf.length) {
          const { bytesRead } = await fh.read(buf, end, buf.length - end, null);
          if (bytesRead === 0) eof = true; else end += bytesRead;
        }
      }
      if (start === end) return;
      const len = findBoundary(buf, start, end, eof);
      if (len < 0) throw new Error('chunker: no boundary within MAX_CHUNK (internal error)');
      yield Buffer.from(buf.subarray(start, start + len));
      start += len;
    }
  } finally {
    await fh.close();
  }
}
