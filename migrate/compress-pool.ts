// A small pool of compression workers. Jobs take an ArrayBuffer the caller gives up
// (transferred, not copied) and resolve with the compressed bytes; the input buffer comes
// back and is lent out again (borrow), so a migration does not allocate and collect a
// megabyte per batch.
import { Worker } from 'node:worker_threads';

/** `framed`: `headroom` free bytes, then the compressed bytes. */
export interface Compressed { framed: Uint8Array; headroom: number }

interface Pending { resolve: (c: Compressed) => void; reject: (e: Error) => void; headroom: number }

/** Input buffers kept for reuse (a sender has a few batches in flight). */
const SPARE_BUFFERS = 8;

export class CompressPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load: number[] = [];
  private nextId = 1;
  private closed = false;
  private readonly spare: ArrayBuffer[] = [];

  constructor(size: number, private readonly level = 1) {
    if (!(size >= 1)) throw new RangeError(`compression pool size must be at least 1, got ${size}`);
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./compress-worker.js', import.meta.url));
      w.unref();
      w.on('message', (m: { id: number; buf?: ArrayBuffer; input?: ArrayBuffer; error?: string }) => {
        if (m.input) this.giveBack(m.input);
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id); this.load[i]!--;
        if (m.buf) p.resolve({ framed: new Uint8Array(m.buf), headroom: p.headroom }); else p.reject(new Error(`compression failed: ${m.error}`));
      });
      w.on('error', (e) => this.failAll(e));
      this.workers.push(w); this.load.push(0);
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** A buffer of at least `bytes` to gather a batch into (a returned input when one is spare). */
  borrow(bytes: number): ArrayBuffer {
    const i = this.spare.findIndex((b) => b.byteLength >= bytes);
    return i >= 0 ? this.spare.splice(i, 1)[0]! : new ArrayBuffer(bytes);
  }

  private giveBack(buf: ArrayBuffer): void {
    if (!this.closed && this.spare.length < SPARE_BUFFERS) this.spare.push(buf);
  }

  /**
   * Compress the first `length` bytes of `buf` (ownership passes to the pool; it is reused
   * through borrow() afterwards). The result keeps `headroom` bytes free in front.
   */
  compress(buf: ArrayBuffer, length = buf.byteLength, headroom = 0): Promise<Compressed> {
    if (this.closed) return Promise.reject(new Error('compression pool is closed'));
    if (!Number.isInteger(length) || length < 0 || length > buf.byteLength) return Promise.reject(new RangeError(`compress: length ${length} outside the ${buf.byteLength}-byte buffer`));
    if (!Number.isInteger(headroom) || headroom < 0) return Promise.reject(new RangeError(`compress: headroom ${headroom}`));
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, headroom });
      this.load[best]!++;
      this.workers[best]!.postMessage({ id, buf, length, headroom, level: this.level }, [buf]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.spare.length = 0;
    this.failAll(new Error('compression pool closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

let shared: CompressPool | null = null;
/**
 * One process-wide pool (workers are unref'd, so it never holds the process open),
 * so migrations do not pay a worker start-up each. One worker: the agent shares its
 * cores with the VMs it runs.
 */
export function sharedCompressPool(): CompressPool {
  if (!shared) shared = new CompressPool(1);
  return shared;
}

/**
 * Ends the process-wide pool's workers (a later sharedCompressPool() starts a new one). An agent calls
 * it when it stops: an unref'd worker still left a ref'd message port behind after a send, and that
 * kept a stopped roamd from exiting.
 */
export async function closeSharedCompressPool(): Promise<void> {
  const pool = shared;
  shared = null;
  await pool?.close();
}
