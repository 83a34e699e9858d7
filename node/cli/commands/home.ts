// `roam home …`: the content-addressed home store. While roamd runs it owns the
// store (its level DB has one opener), so every subcommand goes through roamd's
// control socket; with no roamd, snapshot/status/verify/gc/restore open the
// store directly, and sync says roamd must run.
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { Store, homeStatus, materialise, snapshotTree, isHashHex } from '../../../storage/index.js';
import { agentPaths } from '../../agent/paths.js';
import { call, NotRunning } from '../../agent/control-client.js';
import { syncView } from '../../agent/home-progress.js';
import { ProgressDisplay } from '../progress.js';

const USAGE = `usage: roam home <snapshot|status|verify|gc|restore|sync> [options]

  snapshot              snapshot the home tree into the store (only changed files are read)
  status                head snapshot, refs and unresolved sync conflicts
  verify                rehash every chunk and object; report damage and the files it affects
  gc [--keep N]         reclaim space no snapshot reaches; with --keep, first forget all but
                        the newest N snapshots that no ref names
  restore [SNAPSHOT] [--to DIR] [--delete]
                        write a snapshot (default: head) into DIR (default: --dir); files not in
                        the snapshot are removed only with --delete
  sync <peer>           bring a household member fully up to date with this machine's home:
                        returns once the peer holds every chunk of the current snapshot and has
                        placed it (needs roamd on both machines)
  follow on|off         start or stop roamd's follower (watch the home, push changes to the
                        household's server)

While roamd runs (see --state) every subcommand goes through it and works on its
home tree. Without roamd, the store is opened directly (sync and follow need roamd).

options:
  --state DIR           the roamd to talk to (default: $XDG_DATA_HOME/roam); without roamd,
                        the store is DIR/store
  --store DIR           open this store directly, never through roamd
  --dir DIR             the home tree (default: $HOME, or roamd's home)
  --json                machine-readable output on stdout`;

interface Opts {
  state: string; store: string; storeGiven: boolean; dir: string; dirGiven: boolean;
  json: boolean; keep?: number; to?: string; del: boolean; positional: string[];
}

function parse(argv: string[]): Opts {
  const o: Opts = {
    state: agentPaths().state, store: '', storeGiven: false, dir: process.env.HOME || homedir(), dirGiven: false,
    json: false, del: false, positional: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--store') { o.store = resolve(value()); o.storeGiven = true; }
    else if (a === '--state') o.state = agentPaths(value()).state;
    else if (a === '--dir') { o.dir = resolve(value()); o.dirGiven = true; }
    else if (a === '--to') o.to = resolve(value());
    else if (a === '--json') o.json = true;
    else if (a === '--delete') o.del = true;
    else if (a === '--keep') {
      const v = value();
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--keep wants a whole number of snapshots ≥ 1, not '${v}'`);
      o.keep = Number(v);
    } else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else o.positional.push(a);
  }
  if (!o.storeGiven) o.store = join(o.state, 'store');
  return o;
}

/** One self-overwriting status line on a terminal; nothing when stderr is not one. */
function progressLine(): { update: (s: string) => void; done: () => void } {
  const tty = process.stderr.isTTY;
  let last = 0;
  return {
    update: (s) => {
      const now = Date.now();
      if (!tty || now - last < 100) return;
      last = now;
      process.stderr.write(`\r\x1b[K${s}`);
    },
    done: () => { if (tty) process.stderr.write('\r\x1b[K'); },
  };
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

async function mustBeDir(path: string, what: string): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`${what} ${path} is not a directory (give one with ${what === 'home tree' ? '--dir' : '--to'})`);
}

type Out = (human: string, json: unknown) => void;

async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub) throw new UsageError('which one? snapshot, status, verify, gc, restore, sync or follow');
  const o = parse(rest);
  const out: Out = (human, json) => console.log(o.json ? JSON.stringify(json) : human);
  if (!['snapshot', 'status', 'verify', 'gc', 'restore', 'sync', 'follow'].includes(sub)) throw new UsageError(`unknown subcommand '${sub}'`);
  if (sub === 'sync' && o.positional.length !== 1) throw new UsageError('sync wants exactly one peer (a household member\'s name; see `roam peers`)');
  if (sub === 'follow' && (o.positional.length !== 1 || !['on', 'off'].includes(o.positional[0]!))) throw new UsageError('follow wants on or off');
  if (!['restore', 'sync', 'follow'].includes(sub) && o.positional.length) throw new UsageError(`unexpected argument '${o.positional[0]}'`);
  if (sub === 'restore' && o.positional.length > 1) throw new UsageError('restore takes at most one snapshot id');
  if (!o.storeGiven) {
    try {
      return await throughRoamd(sub, o, out);
    } catch (e) {
      if (!(e instanceof NotRunning)) throw e;
      if (sub === 'sync' || sub === 'follow') {
        console.error(`roam home ${sub}: ${sub} goes through roamd, which must run on this machine (and on the peer): ${e.message}`);
        return 1;
      }
      // No roamd: this process may open the store itself.
    }
  } else if (sub === 'sync' || sub === 'follow') {
    throw new UsageError(`${sub} goes through roamd; drop --store`);
  }
  return local(sub, o, out);
}


/** One subcommand through roamd's control socket; NotRunning when there is no roamd. */
async function throughRoamd(sub: string, o: Opts, out: Out): Promise<number> {
  const dirArg = o.dirGiven ? { dir: o.dir } : {};
  const p = progressLine();
  try {
    switch (sub) {
      case 'snapshot': {
        const r = await call(o.state, 'home-snapshot', dirArg, (ev) => p.update(`scanning: ${ev.files} files, ${mib(Number(ev.bytes))}, ${ev.filesRead} read`)) as
          { id: string; dir: string; stats: { files: number; dirs: number; links: number; bytes: number; filesRead: number; bytesRead: number; ignored: number } };
        p.done();
        out(`snapshot ${r.id} of ${r.dir}\n  ${r.stats.files} files, ${r.stats.dirs} dirs, ${r.stats.links} links, ${mib(r.stats.bytes)}; ` +
          `${r.stats.filesRead} files read (${mib(r.stats.bytesRead)}), ${r.stats.ignored} ignored`, r);
        return 0;
      }
      case 'status': {
        const s = await call(o.state, 'home-status', dirArg) as RoamdStatus;
        out(statusLines(s).join('\n'), s);
        return 0;
      }
      case 'verify': {
        const r = await call(o.state, 'home-verify', dirArg, (ev) => p.update(`verifying: ${ev.done}/${ev.total} chunks`)) as VerifyOut;
        p.done();
        out(verifyLines(r).join('\n'), r);
        return r.ok ? 0 : 1;
      }
      case 'gc': {
        const r = await call(o.state, 'home-gc', { ...dirArg, ...(o.keep !== undefined ? { keep: o.keep } : {}) },
          (ev) => p.update(`gc: moved ${ev.done}/${ev.total} live chunks`)) as GcOut;
        p.done();
        out(gcLine(r), r);
        return 0;
      }
      case 'restore': {
        const r = await call(o.state, 'home-restore', {
          ...dirArg, ...(o.positional[0] ? { snapshot: o.positional[0] } : {}), ...(o.to ? { to: o.to } : {}), delete: o.del,
        }, (ev) => p.update(`restoring: ${Number(ev.filesWritten) + Number(ev.filesUnchanged)} files`)) as RestoreOut;
        p.done();
        out(restoreLines(r), r);
        return r.skipped.length ? 1 : 0;
      }
      case 'follow': {
        const r = await call(o.state, 'home-follow', { ...dirArg, on: o.positional[0] === 'on' }) as { follow: boolean; server: string | null };
        out(r.follow ? `following: each change is pushed to ${r.server ?? 'no one (this machine is the household\'s server)'}` : 'not following', r);
        return 0;
      }
      case 'sync': {
        const peer = o.positional[0]!;
        const display = new ProgressDisplay(process.stderr);
        let r: SyncOut;
        try {
          r = await call(o.state, 'home-sync', { ...dirArg, peer }, (ev) => display.update(syncView(peer, ev))) as SyncOut;
        } finally { display.finish(); }
        const oc = r.outcome;
        out([
          `${r.peer} holds snapshot ${r.snapshot} (${r.files} files, ${mib(r.bytes)}) and has placed it: ` +
            `${oc.chunksFetched} chunks (${mib(oc.bytesFetched)}) sent in ${(r.elapsedMs / 1000).toFixed(1)} s`,
          ...(oc.conflictCount ? [`${oc.conflictCount} conflict(s) on ${r.peer} (both versions kept; see \`roam home status\` there):`,
            ...oc.conflicts.map((c) => `  ${c.path}: ${c.kind}${c.keptAs ? ` (its version kept as ${c.keptAs})` : ''}`)] : []),
        ].join('\n'), r);
        return 0;
      }
    }
    return 2;
  } finally {
    p.done();
  }
}

interface Conflict { path: string; kind: string; keptAs?: string | null; peer?: string }
interface RoamdStatus {
  dir?: string; follow?: boolean; server?: string | null;
  head: { id: string; time: number; machine: string; files: number; bytes: number } | null;
  snapshots: number; refs: Record<string, string>; conflicts: Conflict[];
  pending?: { push: { to: string | null; snapshot: string; since: string; lastError: string | null } | null; interruptedSyncs: Array<{ peer: string; snapshot: string }> };
}
interface VerifyOut { ok: boolean; chunks: number; bytes: number; objects: number; snapshots: number; damage: Array<{ kind: string; hash: string; where: string; problem: string; affects: string[] }> }
interface GcOut { forgotten: number; chunksRemoved: number; objectsRemoved: number; bytesReclaimed: number; chunksMoved: number; packsRemoved: number }
interface RestoreOut { id: string; target: string; filesWritten: number; filesUnchanged: number; removed: number; skipped: Array<{ path: string; reason: string }> }
interface SyncOut { peer: string; snapshot: string; files: number; bytes: number; elapsedMs: number; outcome: { chunksFetched: number; bytesFetched: number; conflictCount: number; conflicts: Conflict[] } }

function statusLines(s: RoamdStatus): string[] {
  const lines = [
    ...(s.dir ? [`home ${s.dir}; follower ${s.follow ? `on (pushes to ${s.server ?? 'no one: this is the household\'s server'})` : 'off'}`] : []),
    s.head ? `head ${s.head.id}\n  taken ${new Date(s.head.time).toISOString()} on ${s.head.machine}: ${s.head.files} files, ${mib(s.head.bytes)}` : 'no snapshot yet (run `roam home snapshot`)',
    `${s.snapshots} snapshot(s); refs: ${Object.keys(s.refs).join(', ') || 'none'}`,
  ];
  const push = s.pending?.push;
  if (push) lines.push(`pending: snapshot ${push.snapshot.slice(0, 12)} not yet on ${push.to ?? 'a server'} (since ${push.since})${push.lastError ? `: ${push.lastError}` : ''}`);
  for (const i of s.pending?.interruptedSyncs ?? []) lines.push(`pending: an interrupted sync from ${i.peer} (snapshot ${i.snapshot.slice(0, 12)}) completes on the next sync`);
  if (s.pending && !push && !(s.pending.interruptedSyncs.length)) lines.push('nothing pending');
  lines.push(s.conflicts.length ? `${s.conflicts.length} conflict(s):` : 'no conflicts');
  lines.push(...s.conflicts.map((c) => `  ${c.path}: ${c.kind}${c.keptAs ? ` (your version kept as ${c.keptAs})` : ''}`));
  return lines;
}

function verifyLines(r: VerifyOut): string[] {
  const lines = [`${r.ok ? 'ok' : 'DAMAGED'}: ${r.chunks} chunks (${mib(r.bytes)}), ${r.objects} objects, ${r.snapshots} snapshots checked`];
  for (const d of r.damage) {
    lines.push(`  ${d.kind} ${d.hash} (${d.where}): ${d.problem}`);
    for (const f of d.affects.slice(0, 20)) lines.push(`    affects ${f}`);
    if (d.affects.length > 20) lines.push(`    … and ${d.affects.length - 20} more`);
  }
  return lines;
}

function gcLine(r: GcOut): string {
  return `gc: forgot ${r.forgotten} snapshot(s); removed ${r.chunksRemoved} chunks and ${r.objectsRemoved} objects, ` +
    `reclaimed ${mib(r.bytesReclaimed)}; moved ${r.chunksMoved} live chunks; removed ${r.packsRemoved} pack(s)`;
}

function restoreLines(r: RestoreOut): string {
  return `restored ${r.id} into ${r.target}: ${r.filesWritten} written, ${r.filesUnchanged} unchanged, ${r.removed} removed` +
    (r.skipped.length ? `\n${r.skipped.length} skipped:\n${r.skipped.map((s) => `  ${s.path}: ${s.reason}`).join('\n')}` : '');
}

/** One subcommand on the store opened by this process (no roamd, or --store). */
async function local(sub: string, o: Opts, out: Out): Promise<number> {
  let store: Store;
  try { store = await Store.open(o.store); } catch (e) {
    throw new Error(`cannot open the store ${o.store}: ${(e as Error).message}` +
      (o.storeGiven ? '; if roamd runs and owns this store, drop --store so the command goes through roamd' : ''));
  }
  const p = progressLine();
  try {
    switch (sub) {
      case 'snapshot': {
        await mustBeDir(o.dir, 'home tree');
        const r = await snapshotTree(store, o.dir, {
          machine: hostname(),
          onProgress: (s) => p.update(`scanning: ${s.files} files, ${mib(s.bytes)}, ${s.filesRead} read`),
        });
        p.done();
        out(`snapshot ${r.id}\n  ${r.stats.files} files, ${r.stats.dirs} dirs, ${r.stats.links} links, ${mib(r.stats.bytes)}; ` +
          `${r.stats.filesRead} files read (${mib(r.stats.bytesRead)}), ${r.stats.ignored} ignored`, { id: r.id, record: r.record, stats: r.stats });
        return 0;
      }
      case 'status': {
        const s = await homeStatus(store, o.dir);
        out(statusLines(s).join('\n'), s);
        return 0;
      }
      case 'verify': {
        const r = await store.verify((d, t) => p.update(`verifying: ${d}/${t} chunks`));
        p.done();
        out(verifyLines(r).join('\n'), r);
        return r.ok ? 0 : 1;
      }
      case 'gc': {
        let forgotten = 0;
        if (o.keep !== undefined) {
          const named = new Set((await store.listRefs()).values());
          const snaps = (await store.listSnapshots()).filter((s) => !named.has(s.id));
          for (const s of snaps.slice(0, Math.max(0, snaps.length - o.keep))) { await store.forgetSnapshot(s.id); forgotten++; }
        }
        const r = await store.gc((d, t) => p.update(`gc: moved ${d}/${t} live chunks`));
        p.done();
        out(`gc: forgot ${forgotten} snapshot(s); removed ${r.chunksRemoved} chunks and ${r.objectsRemoved} objects, ` +
          `reclaimed ${mib(r.bytesReclaimed)}; moved ${r.chunksMoved} live chunks; removed ${r.packsRemoved} pack(s)`, { forgotten, ...r });
        return 0;
      }
      case 'restore': {
        const id = o.positional[0] ?? (await store.getRef('head'));
        if (!id) throw new UsageError('the store has no snapshot yet: run `roam home snapshot` first');
        if (!isHashHex(id)) throw new UsageError(`'${id}' is not a snapshot id (64 hex digits; see \`roam home status\`)`);
        const snap = await store.getSnapshot(id);
        if (!snap) throw new UsageError(`the store has no snapshot ${id}`);
        const target = o.to ?? o.dir;
        const m = await materialise(store, snap.root, target, {
          deleteExtra: o.del,
          onProgress: (s) => p.update(`restoring: ${s.filesWritten + s.filesUnchanged}/${snap.files} files`),
        });
        p.done();
        out(`restored ${id} into ${target}: ${m.filesWritten} written, ${m.filesUnchanged} unchanged, ${m.removed} removed` +
          (m.skipped.length ? `\n${m.skipped.length} skipped:\n${m.skipped.map((s) => `  ${s.path}: ${s.reason}`).join('\n')}` : ''), { id, target, ...m });
        return m.skipped.length ? 1 : 0;
      }
    }
    return 2;
  } finally {
    p.done();
    await store.close();
  }
}

export const home: Command = { name: 'home', summary: 'the home directory store: snapshot, status, verify, gc, restore, sync', usage: USAGE, run };
