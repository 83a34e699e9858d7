// Worker thread: compresses page batches so the agent's event loop keeps serving
// the network (and the control socket) while a migration streams.
import { parentPort } from 'node:worker_threads';
import { compressBound, zstdCompressInto } from './zstd.js';

/** `length` bytes of `buf` to compress; the result leaves `headroom` bytes free in front of it. */
interface Job { id: number; buf: ArrayBuffer; length: number; headroom: number; level: number }

/** zstd's working output, kept across jobs: a fresh bound-sized buffer per batch was most of the garbage. */
let scratch = new Uint8Array(0);

parentPort?.on('message', (job: Job) => {
  try {
    const src = new Uint8Array(job.buf, 0, job.length);
    const bound = compressBound(job.length);
    if (scratch.byteLength < bound) scratch = new Uint8Array(bound);
    const n = zstdCompressInto(scratch, src, job.level);
    // Exactly sized (only the compressed bytes cross back), with room for the frame header
    // in front, so the sender sends it as it is.
    const out = new Uint8Array(job.headroom + n);
    out.set(scratch.subarray(0, n), job.headroom);
    // The input goes back too: the sender gathers its next batch into it.
    parentPort!.postMessage({ id: job.id, buf: out.buffer, input: job.buf }, [out.buffer, job.buf]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: e instanceof Error ? e.message : String(e) });
  }
});
