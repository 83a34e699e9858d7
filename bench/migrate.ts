// Benchmark `migrate`: the same probe guest live-migrated by roam and by QEMU-KVM
// between two network-namespace hosts, alternating run by run: total time, downtime
// as each VMM reports it, guest-visible pause (largest heartbeat gap), bytes on the
// wire (veth counters), rounds — and whether the guest's verification stayed ok.
import type { Benchmark, BenchOptions } from './lib/bench.js';
import { ensureDebianTool } from './lib/debian.js';
import { newSide } from './lib/measure.js';
import { makeNsPair, type NsPair } from './lib/netns.js';
import { qemuVersion } from './lib/qemu.js';
import type { BenchReport, Row } from './lib/report.js';
import { loadNative } from '../native/index.js';
import { ENTROPY, FIGURES, GiB, QEMU_LABEL, TARGET_DOWNTIME_MS, BEAT_MS, planFor, rotate, sidesFrom, type Outcome } from './migrate/cases.js';
import { liveQemus, pskDir, QemuSession } from './migrate/qemu-session.js';
import { RoamHost } from './migrate/roam-host.js';
import { RoamSession } from './migrate/roam-session.js';
import { measureMove, type GuestSession } from './migrate/session.js';
import { hostFacts, loadNow } from './lib/host.js';

/** Guests bigger than this are booted for each run rather than kept (paused) between runs: RAM. */
const KEEP_ALIVE_MAX_BYTES = 2 * GiB;

async function runAll(o: BenchOptions, ns: NsPair, hosts: [RoamHost, RoamHost], psk: string, rows: Row[], checkpoint: (partial: string) => void): Promise<void> {
  const plan = planFor(o.quick);
  const total = plan.links.length * plan.cases.length;
  let done = 0;
  for (const link of plan.links) {
    ns.shape(link.rate);
    for (const c of plan.cases) {
      const caseName = `${c.label}, ${link.label}, entropy ${ENTROPY}`;
      o.log(`${caseName}: ${plan.runs} runs each of roam and ${plan.variants.map((v) => QEMU_LABEL[v]).join(', ')}`);
      const roam = new RoamSession(hosts, c, `probe-${c.key}-${link.key}`);
      const qemus = plan.variants.map((v) => new QemuSession(ns, c, v, psk));
      const sessions: GuestSession[] = [roam, ...qemus];
      const outcomes = new Map<GuestSession, Outcome[]>(sessions.map((s) => [s, []]));
      try {
        for (let i = 0; i < plan.runs; i++) {
          for (const s of rotate(sessions, i)) {
            const r = await measureMove(s, ns, o.log);
            outcomes.get(s)!.push(r);
            if (r.ok) o.log(`${s.label} run ${i + 1}: total ${r.totalMs.toFixed(0)} ms, downtime ${r.downtimeMs.toFixed(0)} ms, pause ${r.pauseMs.toFixed(0)} ms, wire ${(r.wireBytes / 2 ** 20).toFixed(0)} MiB, ${r.rounds} rounds`);
            if (c.memBytes > KEEP_ALIVE_MAX_BYTES) await s.kill();
          }
        }
      } finally {
        for (const s of sessions) await s.kill();
      }
      const roamSides = sidesFrom(roam.label, outcomes.get(roam)!);
      for (const q of qemus) {
        const qSides = sidesFrom(q.label, outcomes.get(q)!);
        for (const f of FIGURES) {
          rows.push({
            figure: f.figure, case: `${caseName}; vs ${QEMU_LABEL[q.variant]}`, unit: f.unit,
            roam: roamSides.get(f.key)!, baseline: qSides.get(f.key)!,
            ...(f.note ? { note: f.note } : {}),
          });
        }
      }
      done++;
      if (done < total) checkpoint(`${done} of ${total} cases measured (the run was still going when this was written)`);
    }
  }
}

export const migrate: Benchmark = {
  name: 'migrate',
  description: 'live migration between two namespace hosts: roam vs QEMU 7.2 (plaintext, TLS, auto-converge, multifd+zstd)',
  async run(o: BenchOptions): Promise<BenchReport> {
    const startedAt = new Date().toISOString();
    const loadBefore = loadNow();
    const rows: Row[] = [];
    const installs: string[] = [];
    const report = (partial?: string): BenchReport => ({
      name: 'migrate',
      title: 'Live migration: roam vs QEMU 7.2 (probe guest, two namespace hosts)',
      startedAt,
      finishedAt: new Date().toISOString(),
      quick: o.quick,
      host: {
        ...hostFacts(loadBefore),
        qemu: qemuVersion() ?? 'missing', kvm: 'nested (PVM)',
        guestEntropy: ENTROPY, downtimeTargetMs: TARGET_DOWNTIME_MS, heartbeatMs: BEAT_MS,
        tools: installs.join('; ') || 'not checked',
      },
      rows: [...rows],
      ...(partial ? { partial } : {}),
    });
    let ns: NsPair | undefined;
    const hosts: RoamHost[] = [];
    const psk = pskDir();
    // Interrupted (Ctrl-C): QEMU does not end when its stdout closes, and namespaces outlive us.
    const interrupted = () => {
      for (const q of liveQemus) q.proc.kill('SIGKILL');
      ns?.destroy();
      psk.remove();
      process.exit(130);
    };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      const kvm = loadNative().kvmStatus();
      if (!kvm.ok) throw new Error(`KVM is not usable: ${kvm.reason}`);
      installs.push(`qemu-system-x86: ${ensureDebianTool('qemu-system-x86_64', 'qemu-system-x86', o.log)}`);
      ns = makeNsPair('m', 233);
      hosts.push(await RoamHost.start(ns.a, ns.exec(ns.a), ns.ipA), await RoamHost.start(ns.b, ns.exec(ns.b), ns.ipB));
      await runAll(o, ns, [hosts[0]!, hosts[1]!], psk.dir, rows, (partial) => o.checkpoint(report(partial)));
    } catch (e) {
      const side = newSide('roam');
      side.failures.push((e as Error).message);
      rows.push({ figure: 'migration', case: 'benchmark failed', unit: '—', roam: side, baseline: { none: 'the benchmark stopped before measuring' } });
      o.log(`FAILED: ${(e as Error).stack ?? (e as Error).message}`);
    } finally {
      for (const h of hosts) await h.stop().catch(() => undefined);
      ns?.destroy();
      psk.remove();
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    }
    return report();
  },
};
