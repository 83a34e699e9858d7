// Turning "these pages of this slot" into PAGES frames (sender) and PAGES frames
// back into guest memory (receiver).
import { DirtyBitmap, isZeroPage } from '../dirty-tracking/index.js';
import { COMPRESS_NONE, COMPRESS_ZSTD, MAX_BATCH_PAGES, MAX_DATA_PAGES, PAGE, encode, pagesHeaderBytes, writePagesHeader, type PagesFrame } from './frames.js';
import type { CompressPool } from './compress-pool.js';
import { PageWriter } from './page-writer.js';
import { zstdDecompressExact } from './zstd.js';
import { ProtocolError } from './errors.js';

export interface BatchStats { dataPages: number; zeroPages: number; rawBytes: number; payloadBytes: number }

/** One batch being filled: a page range with zero/data bitmaps and views of the data pages. */
class OpenBatch {
  readonly zero = new Uint8Array(MAX_BATCH_PAGES / 8);
  readonly data = new Uint8Array(MAX_BATCH_PAGES / 8);
  readonly views: Uint8Array[] = [];
  count = 0;
  zeroPages = 0;
  constructor(readonly first: number) {}
}

/** Locates page views within a slot's windows quickly for ascending page numbers. */
class WindowCursor {
  private wi = 0;
  private firstPage = 0;
  constructor(private readonly windows: Uint8Array[]) {}
  view(page: number): Uint8Array {
    if (page < this.firstPage) { this.wi = 0; this.firstPage = 0; }
    while (this.wi < this.windows.length) {
      const w = this.windows[this.wi]!;
      const n = w.byteLength / PAGE;
      if (page < this.firstPage + n) {
        const off = (page - this.firstPage) * PAGE;
        return w.subarray(off, off + PAGE);
      }
      this.firstPage += n; this.wi++;
    }
    throw new RangeError(`page ${page} outside the slot's memory windows`);
  }
}

export interface EncodedBatch { parts: Uint8Array[]; stats: BatchStats }

/**
 * The PAGES frames for every set page of `pages` in `slot`, as promises (compression runs
 * in the pool meanwhile); the caller awaits them in order.
 */
export function* planBatches(round: number, slot: number, windows: Uint8Array[], pages: DirtyBitmap, pool: CompressPool | null): Generator<Promise<EncodedBatch>> {
  const cur = new WindowCursor(windows);
  let b: OpenBatch | null = null;
  for (const [start, len] of pages.runs()) {
    for (let p = start; p < start + len; p++) {
      if (b && p - b.first >= MAX_BATCH_PAGES) { yield finish(round, slot, b, pool); b = null; }
      const view = cur.view(p);
      const zero = isZeroPage(view, 0);
      if (b && !zero && b.views.length >= MAX_DATA_PAGES) { yield finish(round, slot, b, pool); b = null; }
      if (!b) b = new OpenBatch(p);
      const i = p - b.first;
      if (zero) { b.zero[i >>> 3]! |= 1 << (i & 7); b.zeroPages++; } else { b.data[i >>> 3]! |= 1 << (i & 7); b.views.push(view); }
      b.count = i + 1;
    }
  }
  if (b) yield finish(round, slot, b, pool);
}

async function finish(round: number, slot: number, b: OpenBatch, pool: CompressPool | null): Promise<EncodedBatch> {
  const rawBytes = b.views.length * PAGE;
  const stats: BatchStats = { dataPages: b.views.length, zeroPages: b.zeroPages, rawBytes, payloadBytes: rawBytes };
  const head = { round, slot, first: b.first, count: b.count, zero: b.zero, data: b.data };
  if (pool && b.views.length > 0) {
    // Gather the (scattered) data pages into one buffer the worker can own (a reused one).
    const gather = new Uint8Array(pool.borrow(MAX_DATA_PAGES * PAGE), 0, rawBytes);
    b.views.forEach((v, k) => gather.set(v, k * PAGE));
    // The worker leaves room for the header in front of the compressed bytes: the frame is one buffer.
    const headerBytes = pagesHeaderBytes(b.count);
    const { framed } = await pool.compress(gather.buffer, rawBytes, headerBytes);
    const packedBytes = framed.byteLength - headerBytes;
    if (packedBytes < rawBytes) {
      stats.payloadBytes = packedBytes;
      writePagesHeader({ ...head, compression: COMPRESS_ZSTD }, framed, packedBytes);
      return { parts: [framed], stats };
    }
  }
  // Uncompressed: the payload parts are views straight into guest memory.
  return { parts: encode.pages({ ...head, compression: COMPRESS_NONE }, coalesce(b.views)), stats };
}

/** Merge views of adjacent pages into one view each (fewer, larger sends). */
function coalesce(views: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const v of views) {
    const last = out[out.length - 1];
    if (last && last.buffer === v.buffer && last.byteOffset + last.byteLength === v.byteOffset) {
      out[out.length - 1] = new Uint8Array(v.buffer, last.byteOffset, last.byteLength + v.byteLength);
    } else out.push(v);
  }
  return out;
}

/**
 * Where applyPages decompresses to. Its pages are copied into guest memory before it
 * returns (it never awaits), so one buffer serves every frame and the receiver no longer
 * allocates (and collects) a megabyte per frame.
 */
const inflated = new Uint8Array(MAX_DATA_PAGES * PAGE);

/**
 * Apply a decoded (already range-checked) PAGES frame through the bounds-checked writer.
 * `touched` marks pages that may hold non-zero bytes on this side: a zero page that was
 * never touched needs no write (fresh RAM is zero).
 */
export function applyPages(f: PagesFrame, writer: PageWriter, touched: DirtyBitmap): { dataPages: number; zeroPages: number } {
  let dataPages = 0;
  for (let i = 0; i < f.data.length; i++) { let x = f.data[i]!; while (x) { x &= x - 1; dataPages++; } }
  let raw: Uint8Array;
  if (f.compression === COMPRESS_ZSTD && dataPages > 0) {
    // The decoder bounds dataPages by MAX_DATA_PAGES; the check stays here because the
    // buffer is shared: a frame must not decompress past its own pages.
    if (dataPages > MAX_DATA_PAGES) throw new ProtocolError(`pages: ${dataPages} data pages exceed ${MAX_DATA_PAGES}`);
    raw = inflated.subarray(0, dataPages * PAGE);
    try { zstdDecompressExact(raw, f.payload); } catch (e) { throw new ProtocolError(`pages: ${e instanceof Error ? e.message : String(e)}`); }
  } else raw = f.payload;
  if (raw.byteLength !== dataPages * PAGE) throw new ProtocolError(`pages: ${raw.byteLength} payload bytes for ${dataPages} pages`);
  let k = 0, zeroPages = 0;
  for (let i = 0; i < f.count; i++) {
    const bit = 1 << (i & 7);
    const page = f.first + i;
    if (f.data[i >>> 3]! & bit) {
      writer.write(f.slot, page, raw.subarray(k * PAGE, (k + 1) * PAGE)); k++;
      touched.set(page);
    } else if (f.zero[i >>> 3]! & bit) {
      zeroPages++;
      if (touched.test(page)) { writer.zero(f.slot, page); touched.unset(page); }
    }
  }
  return { dataPages, zeroPages };
}
