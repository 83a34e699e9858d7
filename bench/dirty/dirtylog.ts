// Dirty-log read time per GiB of guest RAM: one NativeVm.dirtyLog(slot, buf,
// clear=true) per slot, summed, on a running guest — what one pre-copy round's
// dirty sync costs. A guest rewriting a working set against an idle one of the
// same size (QEMU has no equivalent call: its dirty sync runs inside its own
// migration and is not exposed on its own).
import type { NativeVm } from '../../native/index.js';
import type { BenchOptions } from '../lib/bench.js';
import { addExtra, newSide, nowMs, sleep, trial, type Side } from '../lib/measure.js';
import type { Row } from '../lib/report.js';
import { startInProcess, type InProcessProbe } from '../lib/roam-vm.js';
import { cleanup, GiB, MiB, runsFor, sizeName } from './common.js';

/** How long each guest runs between clearing the log and reading it. */
const DIRTY_WINDOW_MS = 100;
const WS_RATE = '128M';

function bitmapsFor(vm: NativeVm): { slot: number; buf: Uint8Array }[] {
  return vm.slots().map((s) => ({ slot: s.slot, buf: new Uint8Array(Math.ceil(s.size / 4096 / 64) * 8) }));
}

function popcount(buf: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < buf.length; i++) {
    let b = buf[i]!;
    while (b) { b &= b - 1; n++; }
  }
  return n;
}

/** One sample: clear, let the guest run, then time the read+clear of every slot. */
async function sample(side: Side, p: InProcessProbe, maps: { slot: number; buf: Uint8Array }[]): Promise<void> {
  await trial(side, async () => {
    if (p.out.dead) throw new Error(p.out.dead);
    for (const m of maps) p.vm.dirtyLog(m.slot, m.buf, true);
    await sleep(DIRTY_WINDOW_MS);
    const t0 = nowMs();
    for (const m of maps) p.vm.dirtyLog(m.slot, m.buf, true);
    const ms = nowMs() - t0;
    addExtra(side, 'ms', ms);
    addExtra(side, 'dirtyPages', maps.reduce((n, m) => n + popcount(m.buf), 0));
    return ms / (p.vm.memBytes / GiB);
  });
}

async function sizeCase(o: BenchOptions, mem: number): Promise<Row> {
  const fill = Math.min(mem / 4, 512 * MiB);
  const wsCmd = `fill=${fill / MiB}M ws=64M rate=${WS_RATE} beat=100ms entropy=0.3`;
  const idleCmd = 'fill=16M ws=4M rate=0 beat=100ms entropy=0.3';
  const ws = newSide(`roam, guest rewriting 64 MiB at ${WS_RATE}B/s`);
  const idle = newSide('roam, idle guest (rate=0)');
  const stops: (() => unknown)[] = [];
  try {
    o.log(`dirty log (${sizeName(mem)}): booting an idle and a working-set guest`);
    const pi = startInProcess(mem, idleCmd, 'idle guest'); stops.push(() => pi.vm.close());
    const pw = startInProcess(mem, wsCmd, 'working-set guest'); stops.push(() => pw.vm.close());
    let okI = true; let okW = true;
    try { await pi.out.ready(60_000); } catch (e) { idle.failures.push((e as Error).message); okI = false; }
    try { await pw.out.ready(180_000); } catch (e) { ws.failures.push((e as Error).message); okW = false; }
    const mi = bitmapsFor(pi.vm); const mw = bitmapsFor(pw.vm);
    for (let i = 0; i < runsFor(o); i++) {
      if (okW) await sample(ws, pw, mw);
      if (okI) await sample(idle, pi, mi);
    }
    // A guest that reports CORRUPT voids its samples: its dirty log is not trustworthy either.
    for (const [side, p, ok] of [[ws, pw, okW], [idle, pi, okI]] as const) {
      if (!ok) continue;
      try {
        const seq = p.out.watcher.lastSeq;
        await p.out.nextBeat((hb) => hb.seq > seq, 10_000, 'a heartbeat after the samples');
      } catch (e) {
        side.failures.push(`guest unhealthy after the samples, its ${side.samples.length} samples are void: ${(e as Error).message}`);
        side.samples = [];
      }
    }
  } finally {
    await cleanup(stops);
  }
  return {
    figure: 'dirty-log read+clear per GiB', case: `${sizeName(mem)} guest, all slots`, unit: 'ms/GiB', roam: ws, baseline: idle,
    note: `Baseline is the same read on an idle guest, not QEMU: QEMU has no equivalent call (its dirty sync runs inside its migration). ` +
      `Log cleared, guest run ${DIRTY_WINDOW_MS} ms, then read+clear timed; raw ms and dirty page counts are in the JSON. Working-set guest: ${wsCmd}.`,
  };
}

export async function dirtyLogRows(o: BenchOptions): Promise<Row[]> {
  const sizes = o.quick ? [256 * MiB, GiB] : [256 * MiB, GiB, 4 * GiB];
  const rows: Row[] = [];
  for (const mem of sizes) rows.push(await sizeCase(o, mem));
  return rows;
}
