// One side of a comparison: the samples it produced and the runs that failed.
// A failed run (or one whose guest reported CORRUPT) is recorded with its
// reason and shown in its row; it never contributes a sample.

export interface Side {
  /** What ran, e.g. "roam VmProcess" or "QEMU 7.2 QMP stop". */
  label: string;
  samples: number[];
  /** One entry per failed run: why it failed. */
  failures: string[];
  /** Extra per-run facts worth keeping in the JSON (dirty pages seen, bytes written…). */
  extra: Record<string, number[]>;
}

export function newSide(label: string): Side {
  return { label, samples: [], failures: [], extra: {} };
}

export function addExtra(side: Side, key: string, value: number): void {
  (side.extra[key] ??= []).push(value);
}

/** Runs `fn`; its number becomes a sample, its error a recorded failure. Never throws. */
export async function trial(side: Side, fn: () => Promise<number> | number): Promise<number | null> {
  try {
    const v = await fn();
    if (!Number.isFinite(v)) throw new Error(`measured a non-number (${v})`);
    side.samples.push(v);
    return v;
  } catch (e) {
    side.failures.push(oneLine((e as Error).message ?? String(e)));
    return null;
  }
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

/** High-resolution wall clock in milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
