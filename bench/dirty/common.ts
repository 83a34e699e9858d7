// Shared by the native-core figures: sizes, guest command lines, run counts.
import type { BenchOptions } from '../lib/bench.js';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** Runs per comparison: at least 5 (the bench rules), more when there is time. */
export const runsFor = (o: BenchOptions) => (o.quick ? 5 : 9);

export const sizeName = (bytes: number) => (bytes >= GiB ? `${bytes / GiB} GiB` : `${bytes / MiB} MiB`);

/** A guest that halts between ticks: it dirties almost nothing. */
export const IDLE_CMDLINE = 'fill=16M ws=4M rate=0 beat=100ms entropy=0.3';
/** A guest whose vCPU never rests: it rewrites 32 MiB as fast as it can. */
export const BUSY_CMDLINE = 'fill=64M ws=32M rate=1G beat=100ms entropy=0.3';

/** Kills things started for a measurement, whatever happened, and never throws. */
export async function cleanup(fns: (() => unknown)[]): Promise<void> {
  for (const f of fns.reverse()) {
    try { await f(); } catch { /* already gone */ }
  }
}
