// Benchmark `transport`: the same guest-like bytes (entropy 0.3) pushed through raw TCP
// (the baseline), a plain libp2p Noise + Yamux stream, and roam's migration stream (page
// batches, zstd on and off; a KVM-less VM, see transport/fake-vm.ts), on a namespace's
// loopback and across a veth pair shaped to 1 Gbit/s. Sender and sink are separate
// processes; each transfer is timed until the sink has counted the last byte.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark, BenchOptions } from './lib/bench.js';
import { JsonProc } from './lib/json-proc.js';
import { newSide, type Side } from './lib/measure.js';
import { makeNsPair, type NsPair } from './lib/netns.js';
import type { BenchReport, Row } from './lib/report.js';
import { ENTROPY, rotate } from './migrate/cases.js';
import { hostFacts, loadNow } from './lib/host.js';

const PEER = join(dirname(fileURLToPath(import.meta.url)), 'transport', 'peer.js');
const MiB = 2 ** 20;
const GiB = 2 ** 30;

type Kind = 'tcp' | 'p2p' | 'mig-zstd' | 'mig-raw';
const KIND_LABEL: Record<Kind, string> = {
  tcp: 'raw TCP (node:net)',
  p2p: 'libp2p stream (TCP + Noise + Yamux)',
  'mig-zstd': 'roam migration stream, zstd',
  'mig-raw': 'roam migration stream, no compression',
};

interface LinkSetup { key: string; label: string; to: { tcp: string; p2p: string }; wire: () => number; shape: string | null }

async function runAll(o: BenchOptions, ns: NsPair, procs: JsonProc[], rows: Row[]): Promise<void> {
  const bytes = o.quick ? 256 * MiB : GiB;
  const runs = 5;
  const kinds: Kind[] = ['tcp', 'p2p', 'mig-zstd', 'mig-raw'];
  const sinkLo = new JsonProc(ns.exec(ns.a), PEER, ['serve', '127.0.0.1', String(bytes)]);
  const sinkVeth = new JsonProc(ns.exec(ns.b), PEER, ['serve', ns.ipB, String(bytes)]);
  const sender = new JsonProc(ns.exec(ns.a), PEER, ['send', ns.ipA, String(ENTROPY)]);
  procs.push(sinkLo, sinkVeth, sender);
  const lo = await sinkLo.next(30_000), veth = await sinkVeth.next(30_000);
  await sender.next(60_000);
  const links: LinkSetup[] = [
    { key: 'lo', label: 'loopback (inside one namespace)', to: { tcp: String(lo.tcp), p2p: String(lo.p2p) }, wire: () => ns.txBytes(ns.a, 'lo'), shape: null },
    { key: 'gbit', label: 'veth shaped to 1 Gbit/s (tc tbf)', to: { tcp: String(veth.tcp), p2p: String(veth.p2p) }, wire: () => ns.txBytes(ns.a) + ns.txBytes(ns.b), shape: '1gbit' },
  ];
  for (const link of links) {
    ns.shape(link.shape);
    const time = new Map<Kind, Side>(kinds.map((k) => [k, newSide(KIND_LABEL[k])]));
    const wire = new Map<Kind, Side>(kinds.map((k) => [k, newSide(KIND_LABEL[k])]));
    o.log(`${link.label}: ${runs} × ${bytes / MiB} MiB through each of ${kinds.map((k) => KIND_LABEL[k]).join(', ')}`);
    for (let i = 0; i < runs; i++) {
      for (const k of rotate(kinds, i)) {
        const w0 = link.wire();
        sender.send({ kind: k, to: k === 'tcp' ? link.to.tcp : link.to.p2p, bytes });
        const m = await sender.next(20 * 60_000);
        if (m.t !== 'done') {
          time.get(k)!.failures.push(String(m.error));
          wire.get(k)!.failures.push(String(m.error));
          o.log(`${KIND_LABEL[k]} run ${i + 1}: FAILED: ${String(m.error)}`);
          continue;
        }
        const ms = Number(m.ms), wb = link.wire() - w0;
        time.get(k)!.samples.push(ms);
        wire.get(k)!.samples.push(wb / MiB);
        for (const [key, v] of Object.entries((m.extra ?? {}) as Record<string, number>)) (time.get(k)!.extra[key] ??= []).push(v);
        o.log(`${KIND_LABEL[k]} run ${i + 1}: ${ms.toFixed(0)} ms (${((bytes / MiB) / (ms / 1000)).toFixed(0)} MiB/s of payload), ${(wb / MiB).toFixed(0)} MiB on the wire`);
      }
    }
    for (const k of kinds.filter((x) => x !== 'tcp')) {
      const c = `${bytes / MiB} MiB, ${link.label}, entropy ${ENTROPY}`;
      rows.push({ figure: `time to move ${bytes / MiB} MiB`, case: `${c}: ${KIND_LABEL[k]}`, unit: 'ms', roam: time.get(k)!, baseline: time.get('tcp')! });
      rows.push({ figure: 'bytes on the wire', case: `${c}: ${KIND_LABEL[k]}`, unit: 'MiB', roam: wire.get(k)!, baseline: wire.get('tcp')! });
    }
  }
}

export const transport: Benchmark = {
  name: 'transport',
  description: '1 GiB through raw TCP vs a libp2p Noise+Yamux stream vs roam\'s migration stream (zstd on/off), loopback and 1 Gbit/s',
  async run(o: BenchOptions): Promise<BenchReport> {
    const startedAt = new Date().toISOString();
    const loadBefore = loadNow();
    const rows: Row[] = [];
    const procs: JsonProc[] = [];
    let ns: NsPair | undefined;
    const interrupted = () => { ns?.destroy(); process.exit(130); };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      ns = makeNsPair('t', 235);
      await runAll(o, ns, procs, rows);
    } catch (e) {
      const side = newSide('roam');
      side.failures.push((e as Error).message);
      rows.push({ figure: 'transport', case: 'benchmark failed', unit: '—', roam: side, baseline: { none: 'the benchmark stopped before measuring' } });
      o.log(`FAILED: ${(e as Error).stack ?? (e as Error).message}`);
    } finally {
      for (const p of procs) await p.stop().catch(() => undefined);
      ns?.destroy();
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    }
    return {
      name: 'transport',
      title: 'Transport: raw TCP vs libp2p Noise + Yamux vs roam\'s migration stream',
      startedAt, finishedAt: new Date().toISOString(), quick: o.quick,
      host: {
        ...hostFacts(loadBefore),
        payloadEntropy: ENTROPY,
      },
      rows,
    };
  },
};
