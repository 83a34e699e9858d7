// Benchmark `store`: roam's home store (storage/: snapshotTree + syncFrom over libp2p,
// Noise-encrypted) against rsync (daemon mode, `rsync -a --delete`, plaintext) on the
// same generated tree, between two namespace hosts: initial sync, a resync with nothing
// changed, and a resync after a small change. Time and bytes on the wire.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark, BenchOptions } from './lib/bench.js';
import { ensureDebianTool } from './lib/debian.js';
import { JsonProc } from './lib/json-proc.js';
import { newSide, nowMs, sleep, type Side } from './lib/measure.js';
import { makeNsPair, type NsPair } from './lib/netns.js';
import type { BenchReport, Row } from './lib/report.js';
import { FULL_TREE, QUICK_TREE, generateTree, smallChange, treeBytes, type TreeShape } from './store/tree.js';
import { hostFacts, loadNow } from './lib/host.js';

const PEER = join(dirname(fileURLToPath(import.meta.url)), 'store', 'peer.js');
const MiB = 2 ** 20;
const RSYNC_PORT = 8730;

type Phase = 'initial' | 'nochange' | 'change';
const PHASE_LABEL: Record<Phase, string> = {
  initial: 'initial sync (empty destination)',
  nochange: 'resync, nothing changed',
  change: 'resync after a small change (1 MiB inside a large file, 1 file replaced, 10 added)',
};

/** Starts an rsync daemon serving `tree` as module `home` on ip:RSYNC_PORT inside `ns`. */
function rsyncDaemon(ns: NsPair, where: string, ip: string, tree: string, work: string): ChildProcess {
  const conf = join(work, 'rsyncd.conf');
  writeFileSync(conf, `use chroot = no\nuid = root\ngid = root\n[home]\npath = ${tree}\nread only = yes\n`);
  return spawn(ns.exec(where)[0]!, [...ns.exec(where).slice(1), 'rsync', '--daemon', '--no-detach', `--address=${ip}`, `--port=${RSYNC_PORT}`, `--config=${conf}`], { stdio: 'ignore' });
}

async function rsyncOnce(ns: NsPair, dest: string, fresh: boolean): Promise<number> {
  if (fresh) rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  const t0 = nowMs();
  const r = await new Promise<{ code: number | null; err: string }>((res) => {
    const c = spawn(ns.exec(ns.b)[0]!, [...ns.exec(ns.b).slice(1), 'rsync', '-a', '--delete', `rsync://${ns.ipA}:${RSYNC_PORT}/home/`, `${dest}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-500); });
    c.on('exit', (code) => res({ code, err }));
    c.on('error', (e) => res({ code: -1, err: e.message }));
  });
  if (r.code !== 0) throw new Error(`rsync failed (exit ${r.code}): ${r.err.trim()}`);
  return nowMs() - t0;
}

/** Both trees hold the same files (diff -r), so neither side "wins" by syncing less. */
function sameTree(a: string, b: string): void {
  const r = spawnSync('diff', ['-rq', '--exclude=.roam*', a, b], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`destination differs from the source: ${(r.stdout || r.stderr).trim().split('\n').slice(0, 3).join(' / ')}`);
}

async function runAll(o: BenchOptions, ns: NsPair, work: string, procs: { stop(): Promise<void> }[], rows: Row[]): Promise<void> {
  const shape: TreeShape = o.quick ? QUICK_TREE : FULL_TREE;
  const runs = 5;
  const tree = join(work, 'source');
  o.log(`generating a ${(treeBytes(shape) / MiB).toFixed(0)} MiB tree (${shape.small + shape.medium + shape.large} files)`);
  generateTree(tree, shape);
  const daemon = rsyncDaemon(ns, ns.a, ns.ipA, tree, work);
  procs.push({ stop: async () => { daemon.kill('SIGKILL'); } });
  const server = new JsonProc(ns.exec(ns.a), PEER, ['serve', ns.ipA, join(work, 'store-a'), tree]);
  const client = new JsonProc(ns.exec(ns.b), PEER, ['sync', ns.ipB]);
  procs.push(server, client);
  const addr = String((await server.next(300_000)).addr);
  await client.next(60_000);
  await sleep(500);   // the rsync daemon binds its port
  const time = new Map<Phase, [Side, Side]>();
  const wire = new Map<Phase, [Side, Side]>();
  for (const p of ['initial', 'nochange', 'change'] as Phase[]) {
    time.set(p, [newSide('roam home store (libp2p, Noise)'), newSide('rsync 3.2 daemon, -a --delete (plaintext)')]);
    wire.set(p, [newSide('roam home store (libp2p, Noise)'), newSide('rsync 3.2 daemon, -a --delete (plaintext)')]);
  }
  const roamDest = join(work, 'dest-roam'), rsyncDest = join(work, 'dest-rsync');
  const txBoth = () => ns.txBytes(ns.a) + ns.txBytes(ns.b);
  for (let i = 0; i < runs; i++) {
    if (i > 0) smallChange(tree, shape, i);   // run i > 0 starts from a changed source: all sides see the same tree
    for (const phase of ['initial', 'nochange', 'change'] as Phase[]) {
      if (phase === 'change') smallChange(tree, shape, 100 + i);
      const sides: Array<0 | 1> = i % 2 === 0 ? [0, 1] : [1, 0];
      for (const s of sides) {
        const w0 = txBoth();
        try {
          let ms: number;
          if (s === 0) {
            client.send({ from: addr, storeDir: join(work, 'store-b'), dir: roamDest, fresh: phase === 'initial' });
            const m = await client.next(20 * 60_000);
            if (m.t !== 'done') throw new Error(String(m.error));
            ms = Number(m.ms);
            sameTree(tree, roamDest);
          } else {
            ms = await rsyncOnce(ns, rsyncDest, phase === 'initial');
            sameTree(tree, rsyncDest);
          }
          time.get(phase)![s].samples.push(ms);
          wire.get(phase)![s].samples.push((txBoth() - w0) / MiB);
          o.log(`${s === 0 ? 'roam' : 'rsync'} ${phase} run ${i + 1}: ${ms.toFixed(0)} ms, ${((txBoth() - w0) / MiB).toFixed(2)} MiB on the wire`);
        } catch (e) {
          time.get(phase)![s].failures.push((e as Error).message);
          wire.get(phase)![s].failures.push((e as Error).message);
          o.log(`${s === 0 ? 'roam' : 'rsync'} ${phase} run ${i + 1}: FAILED: ${(e as Error).message}`);
        }
      }
    }
  }
  const c = `${(treeBytes(shape) / MiB).toFixed(0)} MiB tree, ${shape.small + shape.medium + shape.large} files, unshaped veth`;
  for (const p of ['initial', 'nochange', 'change'] as Phase[]) {
    rows.push({ figure: `home sync time: ${PHASE_LABEL[p]}`, case: c, unit: 'ms', roam: time.get(p)![0], baseline: time.get(p)![1] });
    rows.push({ figure: `home sync bytes on the wire: ${PHASE_LABEL[p]}`, case: c, unit: 'MiB', roam: wire.get(p)![0], baseline: wire.get(p)![1] });
  }
}

export const store: Benchmark = {
  name: 'store',
  description: 'home store sync (snapshot + syncFrom over libp2p) vs rsync: initial, no-change, small change',
  async run(o: BenchOptions): Promise<BenchReport> {
    const startedAt = new Date().toISOString();
    const loadBefore = loadNow();
    const rows: Row[] = [];
    const procs: { stop(): Promise<void> }[] = [];
    const installs: string[] = [];
    let ns: NsPair | undefined;
    const work = resolve(o.scratchDir, `store-${process.pid}`);
    const interrupted = () => { ns?.destroy(); rmSync(work, { recursive: true, force: true }); process.exit(130); };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    try {
      installs.push(`rsync: ${ensureDebianTool('rsync', 'rsync', o.log)}`);
      mkdirSync(work, { recursive: true });
      ns = makeNsPair('s', 236);
      await runAll(o, ns, work, procs, rows);
    } catch (e) {
      const side = newSide('roam');
      side.failures.push((e as Error).message);
      rows.push({ figure: 'home sync', case: 'benchmark failed', unit: '—', roam: side, baseline: { none: 'the benchmark stopped before measuring' } });
      o.log(`FAILED: ${(e as Error).stack ?? (e as Error).message}`);
    } finally {
      for (const p of procs) await p.stop().catch(() => undefined);
      ns?.destroy();
      rmSync(work, { recursive: true, force: true });
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    }
    const rsyncVersion = /version (\S+)/.exec(spawnSync('rsync', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '?';
    return {
      name: 'store',
      title: 'Home store sync: roam vs rsync (generated tree, two namespace hosts)',
      startedAt, finishedAt: new Date().toISOString(), quick: o.quick,
      host: {
        ...hostFacts(loadBefore),
        rsync: rsyncVersion, tools: installs.join('; ') || 'not checked',
      },
      rows,
    };
  },
};
