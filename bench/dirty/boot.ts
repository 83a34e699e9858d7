// Probe guest boot time: from asking for a VM to the guest's first heartbeat,
// roam (VM process, and the native core in-process) against QEMU — QEMU's
// figure includes SeaBIOS, so the guest-side time (boot line → first
// heartbeat) is reported too.
import type { BenchOptions } from '../lib/bench.js';
import { addExtra, newSide, nowMs, trial } from '../lib/measure.js';
import type { Row } from '../lib/report.js';
import { startInProcess } from '../lib/roam-vm.js';
import { bootProcess } from '../lib/roam-process.js';
import { qemuVersion, startQemu } from '../lib/qemu.js';
import type { GuestOutput } from '../lib/guest-output.js';
import { cleanup, MiB, runsFor } from './common.js';

const MEM = 256 * MiB;
const CMDLINE = 'fill=16M ws=4M rate=4M beat=10ms entropy=0.3';
const QEMU_FIRST_BEAT_MS = 90_000;   // SeaBIOS takes several varying seconds on this nested KVM

function firstBeat(out: GuestOutput, timeoutMs: number) {
  return out.nextBeat(() => true, timeoutMs, 'first heartbeat');
}

export async function bootRows(o: BenchOptions): Promise<Row[]> {
  const qemu = qemuVersion() ?? 'QEMU (missing)';
  const roamProc = newSide('roam VmProcess: spawn → first HB');
  const roamInProc = newSide('roam in-process: createVm → first HB');
  const qemuProc = newSide(`${qemu}: process start → first HB`);
  const roamGuest = newSide('roam: boot line → first HB');
  const qemuGuest = newSide(`${qemu}: boot line → first HB`);

  for (let i = 0; i < runsFor(o); i++) {
    o.log(`boot: run ${i + 1}/${runsFor(o)}`);
    await trial(roamProc, async () => {
      const t0 = nowMs();
      const p = await bootProcess(MEM, CMDLINE, 'roam VM process');
      try {
        await firstBeat(p.out, 30_000);
        await trial(roamGuest, () => p.out.firstBeatAt! - p.out.bootLineAt!);
        return p.out.firstBeatAt! - t0;
      } finally { await cleanup([() => p.proc.kill()]); }
    });
    await trial(roamInProc, async () => {
      const t0 = nowMs();
      const p = startInProcess(MEM, CMDLINE, 'roam in-process VM');
      try {
        await firstBeat(p.out, 30_000);
        return p.out.firstBeatAt! - t0;
      } finally { p.vm.close(); }
    });
    await trial(qemuProc, async () => {
      const t0 = nowMs();
      const q = await startQemu({ memBytes: MEM, cmdline: CMDLINE, name: 'QEMU' });
      try {
        await firstBeat(q.out, QEMU_FIRST_BEAT_MS);
        await trial(qemuGuest, () => q.out.firstBeatAt! - q.out.bootLineAt!);
        addExtra(qemuProc, 'bootLineAfterStartMs', q.out.bootLineAt! - t0);
        return q.out.firstBeatAt! - t0;
      } finally { await q.stop(); }
    });
  }
  const cmd = `256 MiB, ${CMDLINE}`;
  return [
    { figure: 'boot to first heartbeat', case: `VM process, ${cmd}`, unit: 'ms', roam: roamProc, baseline: qemuProc,
      note: 'QEMU\'s time includes SeaBIOS (several seconds here); roam has no firmware and enters the multiboot kernel directly.' },
    { figure: 'boot to first heartbeat', case: `in-process, ${cmd}`, unit: 'ms', roam: roamInProc, baseline: qemuProc },
    { figure: 'boot line to first heartbeat', case: `guest side, ${cmd}`, unit: 'ms', roam: roamGuest, baseline: qemuGuest,
      note: 'From the guest\'s `PROBE boot` line to its first `HB` line as the host receives them: the guest\'s own start-up (PIT calibration, first beat), firmware excluded.' },
  ];
}
