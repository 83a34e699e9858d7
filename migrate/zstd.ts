// zstd through zstd-napi's low-level binding, because its high-level decompress()
// allocates whatever size a (hostile) frame header claims. Here the caller always
// supplies the output buffer, sized from what the frame's bitmap says it carries.
import { createRequire } from 'node:module';

interface ZstdBinding {
  compress(dst: Uint8Array, src: Uint8Array, level: number): number;
  decompress(dst: Uint8Array, src: Uint8Array): number;
  compressBound(n: number): number;
}

const require = createRequire(import.meta.url);
const binding = require('zstd-napi/binding.js') as ZstdBinding;

export function compressBound(n: number): number { return binding.compressBound(n); }

/** Compress `src`; returns the compressed bytes (a view into a fresh buffer). */
export function zstdCompress(src: Uint8Array, level: number): Uint8Array {
  const dst = new Uint8Array(binding.compressBound(src.byteLength));
  const n = binding.compress(dst, src, level);
  return dst.subarray(0, n);
}

/** Compress `src` into `dst` (at least compressBound(src) bytes); returns the compressed length. */
export function zstdCompressInto(dst: Uint8Array, src: Uint8Array, level: number): number {
  if (dst.byteLength < binding.compressBound(src.byteLength)) throw new RangeError(`zstd: ${dst.byteLength}-byte output is under the bound for ${src.byteLength} bytes`);
  return binding.compress(dst, src, level);
}

/**
 * Decompress `src` into exactly `dst.byteLength` bytes; throws if the data is corrupt,
 * would not fit, or is shorter than expected.
 */
export function zstdDecompressExact(dst: Uint8Array, src: Uint8Array): void {
  let n: number;
  try { n = binding.decompress(dst, src); } catch (e) {
    throw new Error(`zstd payload does not decompress to ${dst.byteLength} bytes: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (n !== dst.byteLength) throw new Error(`zstd payload decompressed to ${n} bytes, expected ${dst.byteLength}`);
}
