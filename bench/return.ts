// Benchmark `return`: A → B → A. The guest goes out to the other host, runs there a
// few seconds, and comes back; the way back is measured. roam keeps the image of a VM
// that left (migrate/kept-images) and sends only what changed since; QEMU has no such
// reuse and sends the whole guest again.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Benchmark, BenchOptions } from './lib/bench.js';
import { ensureDebianTool } from './lib/debian.js';
import { newSide } from './lib/measure.js';
import { makeNsPair, type NsPair } from './lib/netns.js';
import { qemuVersion } from './lib/qemu.js';
import type { BenchReport, Row } from './lib/report.js';
import { loadNative } from '../native/index.js';
import { BEAT_MS, ENTROPY, FIGURES, GiB, LINKS, QEMU_LABEL, TARGET_DOWNTIME_MS, rotate, sidesFrom, type MigrateCase, type Outcome, type QemuVariant } from './migrate/cases.js';
import { liveQemus, pskDir, QemuSession } from './migrate/qemu-session.js';
import { RoamHost } from './migrate/roam-host.js';
import { RoamSession } from './migrate/roam-session.js';
import { measureMove, type GuestSession } from './migrate/session.js';
import { hostFacts, loadNow } from './lib/host.js';

/** How long the guest runs on the other host before it comes back. */
const DWELL_MS = 3000;

const RETURN_CASES: MigrateCase[] = [
  {
    key: 'back1g', label: '1 GiB (512 MiB filled), 32 MiB working set at 8 MiB/s, 3 s away', memBytes: GiB,
    cmdline: `fill=512M ws=32M rate=8M beat=${BEAT_MS}ms entropy=${ENTROPY}`, deadlineMs: 60_000,
  },
  {
    key: 'backws1g', label: '1 GiB (512 MiB filled), 256 MiB working set at 100 MiB/s, 3 s away', memBytes: GiB,
    cmdline: `fill=512M ws=256M rate=100M beat=${BEAT_MS}ms entropy=${ENTROPY}`, deadlineMs: 60_000,
  },
];

const RETURN_FIGURES = FIGURES.filter((f) => f.key !== 'rounds');

async function runAll(o: BenchOptions, ns: NsPair, hosts: [RoamHost, RoamHost], psk: string, rows: Row[]): Promise<void> {
  const cases = o.quick ? RETURN_CASES.slice(0, 1) : RETURN_CASES;
  const variants: QemuVariant[] = o.quick ? ['tls'] : ['tls', 'plain'];
  const runs = 5;
  const link = LINKS.veth!;
  for (const c of cases) {
    const caseName = `${c.label}, ${link.label}, entropy ${ENTROPY}`;
    o.log(`${caseName}: ${runs} return trips each of roam and ${variants.map((v) => QEMU_LABEL[v]).join(', ')}`);
    const roam = new RoamSession(hosts, c, `back-${c.key}`, 'roam (kept image: only changes travel back)');
    const qemus = variants.map((v) => new QemuSession(ns, c, v, psk));
    const sessions: GuestSession[] = [roam, ...qemus];
    const outcomes = new Map<GuestSession, Outcome[]>(sessions.map((s) => [s, []]));
    try {
      for (let i = 0; i < runs; i++) {
        for (const s of rotate(sessions, i)) {
          const r = await measureMove(s, ns, o.log, { outboundDwellMs: DWELL_MS });
          outcomes.get(s)!.push(r);
          if (r.ok) o.log(`${s.label} return ${i + 1}: total ${r.totalMs.toFixed(0)} ms, downtime ${r.downtimeMs.toFixed(0)} ms, wire ${(r.wireBytes / 2 ** 20).toFixed(1)} MiB`);
        }
      }
    } finally {
      for (const s of sessions) await s.kill();
    }
    const roamSides = sidesFrom(roam.label, outcomes.get(roam)!);
    for (const q of qemus) {
      const qSides = sidesFrom(q.label, outcomes.get(q)!);
      for (const f of RETURN_FIGURES) {
        rows.push({
          figure: `return trip: ${f.figure}`, case: `${caseName}; vs ${QEMU_LABEL[q.variant]}`, unit: f.unit,
          roam: roamSides.get(f.key)!, baseline: qSides.get(f.key)!,
          ...(f.note ? { note: f.note } : {}),
        });
      }
    }
  }
}

export const returnTrip: Benchmark = {
  name: 'return',
  description: 'A → B → A: time and bytes of the way back, roam (kept image) vs QEMU (sends it all again)',
  async run(o: BenchOptions): Promise<BenchReport> {
    const startedAt = new Date().toISOString();
    const loadBefore = loadNow();
    const rows: Row[] = [];
    const installs: string[] = [];
    let ns: NsPair | undefined;
    const hosts: RoamHost[] = [];
    const psk = pskDir();
    const keepRoot = join(o.scratchDir, `return-kept-${process.pid}`);
    const interrupted = () => {
      for (const q of liveQemus) q.proc.kill('SIGKILL');
      ns?.destroy();
      psk.remove();
      rmSync(keepRoot, { recursive: true, force: true });
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      const kvm = loadNative().kvmStatus();
      if (!kvm.ok) throw new Error(`KVM is not usable: ${kvm.reason}`);
      installs.push(`qemu-system-x86: ${ensureDebianTool('qemu-system-x86_64', 'qemu-system-x86', o.log)}`);
      ns = makeNsPair('r', 234);
      mkdirSync(keepRoot, { recursive: true });
      hosts.push(
        await RoamHost.start(ns.a, ns.exec(ns.a), ns.ipA, join(keepRoot, 'a')),
        await RoamHost.start(ns.b, ns.exec(ns.b), ns.ipB, join(keepRoot, 'b')),
      );
      await runAll(o, ns, [hosts[0]!, hosts[1]!], psk.dir, rows);
    } catch (e) {
      const side = newSide('roam');
      side.failures.push((e as Error).message);
      rows.push({ figure: 'return trip', case: 'benchmark failed', unit: '—', roam: side, baseline: { none: 'the benchmark stopped before measuring' } });
      o.log(`FAILED: ${(e as Error).stack ?? (e as Error).message}`);
    } finally {
      for (const h of hosts) await h.stop().catch(() => undefined);
      ns?.destroy();
      psk.remove();
      rmSync(keepRoot, { recursive: true, force: true });
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    }
    return {
      name: 'return',
      title: 'Return trip A → B → A: roam (kept image) vs QEMU 7.2 (probe guest, two namespace hosts)',
      startedAt,
      finishedAt: new Date().toISOString(),
      quick: o.quick,
      host: {
        ...hostFacts(loadBefore),
        qemu: qemuVersion() ?? 'missing', kvm: 'nested (PVM)',
        guestEntropy: ENTROPY, downtimeTargetMs: TARGET_DOWNTIME_MS, heartbeatMs: BEAT_MS, awayMs: DWELL_MS,
        tools: installs.join('; ') || 'not checked',
      },
      rows,
    };
  },
};
