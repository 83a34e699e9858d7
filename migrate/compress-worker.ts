// Worker thread: compresses page batches so the agent's event loop keeps serving
// the network (and the control socket) while a migration streams.
import { parentPort } from 'node:worker_threads';
import { zstdCompress } from './zstd.js';

interface Job { id: number; buf: ArrayBuffer; level: number }

parentPort?.on('message', (job: Job) => {
  try {
    const out = zstdCompress(new Uint8Array(job.buf), job.level);
    // Copy into an exactly-sized buffer so only the compressed bytes cross back.
    const exact = out.slice();
    parentPort!.postMessage({ id: job.id, buf: exact.buffer }, [exact.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id: job.id, error: e instanceof Error ? e.message : String(e) });
  }
});
