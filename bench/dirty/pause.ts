// Pause latency: the wall time from asking a running VM to stop until every
// vCPU is out of the guest. roam: NativeVm.pause() in-process, and the VM
// process's `pause` request (IPC round trip, as the agent uses it); QEMU: the
// QMP `stop` command's round trip (QEMU replies once all vCPUs are paused).
import type { BenchOptions } from '../lib/bench.js';
import { newSide, nowMs, sleep, trial, type Side } from '../lib/measure.js';
import type { Row } from '../lib/report.js';
import { startInProcess, type InProcessProbe } from '../lib/roam-vm.js';
import { bootProcess, type ProcessProbe } from '../lib/roam-process.js';
import { qemuVersion, startQemu, type QemuProbe } from '../lib/qemu.js';
import type { GuestOutput } from '../lib/guest-output.js';
import { BUSY_CMDLINE, cleanup, IDLE_CMDLINE, MiB, runsFor } from './common.js';

const MEM = 256 * MiB;
/** Pauses per run; the row's samples are every single pause. */
const PAUSES_PER_RUN = 15;
/** Running time between pauses, so each pause catches a guest that is really running. */
const RUN_BETWEEN_MS = 10;

/** Runs PAUSES_PER_RUN pause/resume cycles; records each pause in µs. A broken run is one failure. */
async function pauseRun(side: Side, pause: () => Promise<void> | void, resume: () => Promise<void> | void): Promise<void> {
  const got: number[] = [];
  const ok = await trial(side, async () => {
    for (let k = 0; k < PAUSES_PER_RUN; k++) {
      const t0 = nowMs();
      await pause();
      got.push((nowMs() - t0) * 1000);
      await resume();
      await sleep(RUN_BETWEEN_MS);
    }
    return 0;
  });
  if (ok !== null) {
    side.samples.pop();   // the placeholder 0 from trial(); the real samples are the pauses
    side.samples.push(...got);
  }
}

/** After the runs: the guest must still beat, in order and ok; otherwise every sample of the side is void. */
async function checkHealthy(side: Side, out: GuestOutput): Promise<void> {
  try {
    const seq = out.watcher.lastSeq;
    await out.nextBeat((hb) => hb.seq > seq, 10_000, 'a heartbeat after the pause runs');
    if (out.watcher.gaps || out.watcher.repeats) throw new Error(`heartbeat sequence broken (gaps ${out.watcher.gaps}, repeats ${out.watcher.repeats})`);
  } catch (e) {
    side.failures.push(`guest unhealthy after the runs, its ${side.samples.length} samples are void: ${(e as Error).message}`);
    side.samples = [];
  }
}

async function pauseCase(o: BenchOptions, kind: 'idle' | 'busy'): Promise<Row[]> {
  const cmdline = kind === 'idle' ? IDLE_CMDLINE : BUSY_CMDLINE;
  const qemu = qemuVersion() ?? 'QEMU (missing)';
  const inProc = newSide('roam NativeVm.pause() in-process');
  const viaProc = newSide('roam VmProcess pause request (IPC)');
  const qmpStop = newSide(`${qemu} QMP stop (unix socket)`);
  const stops: (() => unknown)[] = [];
  let a: InProcessProbe | undefined; let b: ProcessProbe | undefined; let q: QemuProbe | undefined;
  try {
    o.log(`pause (${kind}): booting roam in-process, roam VM process and QEMU guests`);
    try { a = startInProcess(MEM, cmdline, 'roam in-process'); stops.push(() => a!.vm.close()); } catch (e) { inProc.failures.push((e as Error).message); }
    try { b = await bootProcess(MEM, cmdline, 'roam VM process'); stops.push(() => b!.proc.kill()); } catch (e) { viaProc.failures.push((e as Error).message); }
    try { q = await startQemu({ memBytes: MEM, cmdline, name: 'QEMU' }); stops.push(() => q!.stop()); } catch (e) { qmpStop.failures.push((e as Error).message); }
    const ready = async (side: Side, out: GuestOutput | undefined, timeoutMs: number) => {
      if (!out) return false;
      try { await out.ready(timeoutMs); return true; } catch (e) { side.failures.push((e as Error).message); return false; }
    };
    const okA = await ready(inProc, a?.out, 60_000);
    const okB = await ready(viaProc, b?.out, 60_000);
    const okQ = await ready(qmpStop, q?.out, 90_000);
    for (let i = 0; i < runsFor(o); i++) {
      o.log(`pause (${kind}): run ${i + 1}/${runsFor(o)}`);
      if (okA) await pauseRun(inProc, () => { a!.vm.pause(); }, () => a!.vm.resume());
      if (okB) await pauseRun(viaProc, async () => { await b!.proc.request({ op: 'pause' }); }, async () => { await b!.proc.request({ op: 'resume' }); });
      if (okQ) await pauseRun(qmpStop, async () => { await q!.qmp.execute('stop'); }, async () => { await q!.qmp.execute('cont'); });
    }
    if (okA) await checkHealthy(inProc, a!.out);
    if (okB) await checkHealthy(viaProc, b!.out);
    if (okQ) await checkHealthy(qmpStop, q!.out);
  } finally {
    await cleanup(stops);
  }
  const c = `${kind} guest, 256 MiB, 1 vCPU`;
  const note = `${PAUSES_PER_RUN} pauses per run, ${RUN_BETWEEN_MS} ms running between them; samples are single pauses. Guest: ${cmdline}.`;
  return [
    { figure: 'pause latency', case: `${c}, in-process`, unit: 'µs', roam: inProc, baseline: qmpStop, note },
    { figure: 'pause latency', case: `${c}, over IPC`, unit: 'µs', roam: viaProc, baseline: qmpStop,
      note: 'Both sides cross a process boundary here: fork() IPC (advanced serialisation) for roam, a QMP unix socket for QEMU.' },
  ];
}

export async function pauseRows(o: BenchOptions): Promise<Row[]> {
  return [...await pauseCase(o, 'idle'), ...await pauseCase(o, 'busy')];
}
