// What every benchmark report says about the machine it ran on. The machines
// are shared, so the 1-minute load average at the start and the end of a run
// says how busy the host was around it.
import { cpus, loadavg, totalmem } from 'node:os';

/** The 1-minute load average now, as the reports print it. */
export function loadNow(): string {
  return loadavg()[0]!.toFixed(2);
}

/** CPU, cores, memory, Node, and the load around the run (`loadBefore` from loadNow() at its start). */
export function hostFacts(loadBefore: string): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? '?', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version,
    loadavg1mStart: loadBefore, loadavg1mEnd: loadNow(),
  };
}
