// A small pool of compression workers. Jobs take an ArrayBuffer the caller gives up
// (transferred, not copied) and resolve with the compressed bytes.
import { Worker } from 'node:worker_threads';

interface Pending { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }

export class CompressPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load: number[] = [];
  private nextId = 1;
  private closed = false;

  constructor(size: number, private readonly level = 1) {
    if (!(size >= 1)) throw new RangeError(`compression pool size must be at least 1, got ${size}`);
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./compress-worker.js', import.meta.url));
      w.unref();
      w.on('message', (m: { id: number; buf?: ArrayBuffer; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id); this.load[i]!--;
        if (m.buf) p.resolve(new Uint8Array(m.buf)); else p.reject(new Error(`compression failed: ${m.error}`));
      });
      w.on('error', (e) => this.failAll(e));
      this.workers.push(w); this.load.push(0);
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Compress `buf` (ownership passes to the pool). */
  compress(buf: ArrayBuffer): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error('compression pool is closed'));
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.load[best]!++;
      this.workers[best]!.postMessage({ id, buf, level: this.level }, [buf]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
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
