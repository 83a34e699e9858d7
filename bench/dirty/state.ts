// Whole-machine state save and restore. In-process: NativeVm.saveState() and
// restoreState() alone (vCPU and device state, no RAM). Through the VM
// process: the whole VM image to a file and back (node/vm-host saveToFile /
// restoreFromFile) against QEMU's migration to a file
// (`migrate exec:cat > file`, then `-incoming exec:cat file`), the same guest
// and memory size. Every restored guest must carry on: its next heartbeat
// follows the last one saved and reports ok, or the run counts as failed.
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from '../lib/bench.js';
import { addExtra, newSide, nowMs, sleep, trial, type Side } from '../lib/measure.js';
import type { Row } from '../lib/report.js';
import { copyRam, createBlank, pauseAndDrain, startInProcess } from '../lib/roam-vm.js';
import { bootProcess, spawnProcess, type ProcessProbe } from '../lib/roam-process.js';
import { awaitMigration, qemuVersion, startQemu, type QemuProbe } from '../lib/qemu.js';
import type { GuestOutput } from '../lib/guest-output.js';
import { cleanup, GiB, MiB, runsFor, sizeName } from './common.js';

const guestCmd = (mem: number) => `fill=${Math.min(mem / 4, 256 * MiB) / MiB}M ws=8M rate=8M beat=20ms entropy=0.3`;

/** The restored guest's first heartbeat must continue the saved sequence (a line cut at the save may be lost). */
async function continues(out: GuestOutput, seqAtSave: number, timeoutMs: number): Promise<number> {
  const hb = await out.nextBeat(() => true, timeoutMs, 'the first heartbeat after restore');
  if (hb.seq <= seqAtSave || hb.seq > seqAtSave + 2) {
    throw new Error(`restored guest's first heartbeat is seq ${hb.seq}, the saved guest was at ${seqAtSave}`);
  }
  return hb.seq;
}

async function inProcessRows(o: BenchOptions): Promise<Row[]> {
  const mem = 256 * MiB;
  const save = newSide('roam NativeVm.saveState() (paused VM)');
  const restore = newSide('roam NativeVm.restoreState() (fresh VM)');
  const src = startInProcess(mem, guestCmd(mem), 'in-process source');
  try {
    let ready = true;
    try { await src.out.ready(60_000); } catch (e) {
      ready = false;
      save.failures.push((e as Error).message);
      restore.failures.push((e as Error).message);
    }
    for (let i = 0; ready && i < runsFor(o); i++) {
      o.log(`state (in-process): run ${i + 1}/${runsFor(o)}`);
      await pauseAndDrain(src);
      let state: Buffer | undefined;
      await trial(save, () => {
        const t0 = nowMs();
        state = src.vm.saveState();
        const ms = nowMs() - t0;
        addExtra(save, 'stateBytes', state.length);
        return ms;
      });
      const seqAtSave = src.out.watcher.lastSeq;
      if (state) {
        const copy = createBlank(mem, 'in-process copy');
        try {
          copyRam(src.vm, copy.vm);
          await trial(restore, async () => {
            const t0 = nowMs();
            copy.vm.restoreState(state!);
            const ms = nowMs() - t0;
            copy.vm.start();
            await continues(copy.out, seqAtSave, 10_000);
            return ms;
          });
        } finally { copy.vm.close(); }
      }
      src.vm.resume();
      await sleep(50);
    }
  } finally { src.vm.close(); }
  const none = { none: 'QEMU cannot save vCPU and device state apart from RAM (its migration stream carries both)' };
  return [
    { figure: 'state save (no RAM)', case: '256 MiB, 1 vCPU, in-process', unit: 'ms', roam: save, baseline: none },
    { figure: 'state restore (no RAM)', case: '256 MiB, 1 vCPU, in-process', unit: 'ms', roam: restore, baseline: none,
      note: 'Each restored copy was started and had to continue the heartbeat sequence with ok for the run to count.' },
  ];
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

async function roamImageRun(src: ProcessProbe, file: string, save: Side, restore: Side): Promise<void> {
  const saved = await trial(save, async () => {
    const t0 = nowMs();
    const r = await src.proc.request({ op: 'saveToFile', path: file });
    const ms = nowMs() - t0;
    addExtra(save, 'fileBytes', r.bytes);
    addExtra(save, 'diskBytes', statSync(file).blocks * 512);
    addExtra(save, 'hostReportedMs', r.ms);
    return ms;
  });
  const seqAtSave = src.out.watcher.lastSeq;
  if (saved !== null) {
    await trial(restore, async () => {
      const t0 = nowMs();
      const p = await spawnProcess('roam restored VM process');
      try {
        const r = await p.proc.request({ op: 'restoreFromFile', path: file });
        addExtra(restore, 'hostReportedMs', r.ms);
        await p.proc.request({ op: 'start' });
        await continues(p.out, seqAtSave, 20_000);
        return p.out.firstBeatAt! - t0;
      } finally { await cleanup([() => p.proc.kill()]); }
    });
  }
  rmSync(file, { force: true });
  await src.proc.request({ op: 'resume' });
}

async function qemuImageRun(mem: number, src: QemuProbe, file: string, save: Side, restore: Side): Promise<void> {
  const saved = await trial(save, async () => {
    const t0 = nowMs();
    await src.qmp.execute('migrate', { uri: `exec:cat > '${file}'` });
    await awaitMigration(src.qmp, 120_000);
    addExtra(save, 'noFsyncMs', nowMs() - t0);
    fsyncFile(file);
    const ms = nowMs() - t0;
    addExtra(save, 'fileBytes', statSync(file).size);
    addExtra(save, 'diskBytes', statSync(file).blocks * 512);
    return ms;
  });
  await sleep(100);   // let the last serial bytes written before the stop reach us
  const seqAtSave = src.out.watcher.lastSeq;
  if (saved !== null) {
    await trial(restore, async () => {
      const t0 = nowMs();
      const q = await startQemu({ memBytes: mem, cmdline: guestCmd(mem), name: 'QEMU restored', incoming: `exec:cat '${file}'` });
      try {
        await continues(q.out, seqAtSave, 60_000);
        return q.out.firstBeatAt! - t0;
      } finally { await q.stop(); }
    });
  }
  rmSync(file, { force: true });
  await src.qmp.execute('cont');
}

async function imageRows(o: BenchOptions, mem: number): Promise<Row[]> {
  const qemu = qemuVersion() ?? 'QEMU (missing)';
  const rSave = newSide('roam VmProcess saveToFile (pause, state, sparse RAM, fsync)');
  const rRestore = newSide('roam spawn + restoreFromFile + start → first HB');
  const qSave = newSide(`${qemu} migrate exec:cat > file, + fsync`);
  const qRestore = newSide(`${qemu} -incoming exec:cat file → first HB`);
  mkdirSync(o.scratchDir, { recursive: true });
  const stops: (() => unknown)[] = [];
  const cmd = guestCmd(mem);
  try {
    o.log(`image (${sizeName(mem)}): booting a roam VM process and a QEMU guest`);
    // Both boot at once (QEMU's SeaBIOS takes seconds); measuring starts when both are ready.
    const [rs, qs] = await Promise.allSettled([
      (async () => {
        const p = await bootProcess(mem, cmd, 'roam source'); stops.push(() => p.proc.kill());
        await p.out.ready(120_000);
        return p;
      })(),
      (async () => {
        const p = await startQemu({ memBytes: mem, cmdline: cmd, name: 'QEMU source' }); stops.push(() => p.stop());
        await p.out.ready(120_000);
        return p;
      })(),
    ]);
    const r: ProcessProbe | undefined = rs.status === 'fulfilled' ? rs.value : undefined;
    const q: QemuProbe | undefined = qs.status === 'fulfilled' ? qs.value : undefined;
    if (rs.status === 'rejected') rSave.failures.push((rs.reason as Error).message);
    if (qs.status === 'rejected') qSave.failures.push((qs.reason as Error).message);
    for (let i = 0; i < runsFor(o); i++) {
      o.log(`image (${sizeName(mem)}): run ${i + 1}/${runsFor(o)}`);
      if (r) await roamImageRun(r, join(o.scratchDir, `roam-${process.pid}.img`), rSave, rRestore);
      if (q) await qemuImageRun(mem, q, join(o.scratchDir, `qemu-${process.pid}.mig`), qSave, qRestore);
    }
  } finally {
    await cleanup(stops);
  }
  const c = `${sizeName(mem)}, 1 vCPU, ${cmd}`;
  return [
    { figure: 'VM image save to file', case: c, unit: 'ms', roam: rSave, baseline: qSave,
      note: 'Request/command to file complete, VM paused. roam fsyncs and renames; QEMU\'s figure adds an fsync of its file after `completed` (without it: noFsyncMs in the JSON).' },
    { figure: 'VM image restore to first heartbeat', case: c, unit: 'ms', roam: rRestore, baseline: qRestore,
      note: 'Process start to the restored guest\'s first heartbeat, which must follow the saved sequence and be ok. The file is in the page cache for both.' },
  ];
}

export async function stateRows(o: BenchOptions): Promise<Row[]> {
  const rows = await inProcessRows(o);
  for (const mem of o.quick ? [256 * MiB] : [256 * MiB, GiB]) rows.push(...await imageRows(o, mem));
  return rows;
}
