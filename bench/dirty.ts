// Benchmark `dirty`: the native KVM core's own figures beside QEMU's for the
// same probe guest — boot to first heartbeat, pause latency, dirty-log read
// time per GiB, and whole-machine state save/restore.
import type { Benchmark, BenchOptions } from './lib/bench.js';
import type { BenchReport, Row } from './lib/report.js';
import { qemuVersion } from './lib/qemu.js';
import { bootRows } from './dirty/boot.js';
import { pauseRows } from './dirty/pause.js';
import { dirtyLogRows } from './dirty/dirtylog.js';
import { stateRows } from './dirty/state.js';
import { newSide } from './lib/measure.js';
import { hostFacts, loadNow } from './lib/host.js';

async function section(o: BenchOptions, figure: string, rows: Row[], fn: (o: BenchOptions) => Promise<Row[]>): Promise<void> {
  try {
    rows.push(...await fn(o));
  } catch (e) {
    // A section that could not run at all still gets its row, saying why.
    const side = newSide('roam');
    side.failures.push((e as Error).message);
    rows.push({ figure, case: 'section failed', unit: '—', roam: side, baseline: { none: 'section failed before measuring' } });
    o.log(`${figure}: FAILED: ${(e as Error).message}`);
  }
}

export const dirty: Benchmark = {
  name: 'dirty',
  description: 'native core vs QEMU: probe boot, pause latency, dirty-log read per GiB, state save/restore',
  async run(o: BenchOptions): Promise<BenchReport> {
    const startedAt = new Date().toISOString();
    const loadBefore = loadNow();
    const rows: Row[] = [];
    await section(o, 'boot to first heartbeat', rows, bootRows);
    await section(o, 'pause latency', rows, pauseRows);
    await section(o, 'dirty-log read+clear per GiB', rows, dirtyLogRows);
    await section(o, 'state save/restore', rows, stateRows);
    return {
      name: 'dirty',
      title: 'roam native core vs QEMU (probe guest)',
      startedAt,
      finishedAt: new Date().toISOString(),
      quick: o.quick,
      host: {
        ...hostFacts(loadBefore),
        qemu: qemuVersion() ?? 'missing', kvm: 'nested (PVM)',
      },
      rows,
    };
  },
};
