// `roam home …`: the content-addressed home store, on this machine.
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { Store, homeStatus, materialise, snapshotTree, isHashHex } from '../../../storage/index.js';

const USAGE = `usage: roam home <snapshot|status|verify|gc|restore|sync> [options]

  snapshot              snapshot the home tree into the store (only changed files are read)
  status                head snapshot, refs and unresolved sync conflicts
  verify                rehash every chunk and object; report damage and the files it affects
  gc [--keep N]         reclaim space no snapshot reaches; with --keep, first forget all but
                        the newest N snapshots that no ref names
  restore [SNAPSHOT] [--to DIR] [--delete]
                        write a snapshot (default: head) into DIR (default: --dir); files not in
                        the snapshot are removed only with --delete
  sync <peer>           sync with a household peer (needs the roam agent, roamd)

options:
  --store DIR           the store (default: $XDG_DATA_HOME/roam/store)
  --dir DIR             the home tree (default: $HOME)
  --json                machine-readable output on stdout`;

interface Opts { store: string; dir: string; json: boolean; keep?: number; to?: string; del: boolean; positional: string[] }

function parse(argv: string[]): Opts {
  const dataHome = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  const o: Opts = { store: join(dataHome, 'roam', 'store'), dir: process.env.HOME || homedir(), json: false, del: false, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--store') o.store = resolve(value());
    else if (a === '--dir') o.dir = resolve(value());
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

async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub) throw new UsageError('which one? snapshot, status, verify, gc, restore or sync');
  const o = parse(rest);
  const out = (human: string, json: unknown) => console.log(o.json ? JSON.stringify(json) : human);
  if (sub === 'sync') {
    if (o.positional.length !== 1) throw new UsageError('sync wants exactly one peer');
    console.error(`roam home sync ${o.positional[0]}: syncing goes through the roam agent (roamd), which is not available yet.`);
    return 1;
  }
  if (!['snapshot', 'status', 'verify', 'gc', 'restore'].includes(sub)) throw new UsageError(`unknown subcommand '${sub}'`);
  if (sub !== 'restore' && o.positional.length) throw new UsageError(`unexpected argument '${o.positional[0]}'`);
  const store = await Store.open(o.store);
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
        const lines = [
          s.head ? `head ${s.head.id}\n  taken ${new Date(s.head.time).toISOString()} on ${s.head.machine}: ${s.head.files} files, ${mib(s.head.bytes)}` : 'no snapshot yet (run `roam home snapshot`)',
          `${s.snapshots} snapshot(s); refs: ${Object.keys(s.refs).join(', ') || 'none'}`,
          s.conflicts.length ? `${s.conflicts.length} conflict(s):` : 'no conflicts',
          ...s.conflicts.map((c) => `  ${c.path}: ${c.kind}${c.keptAs ? ` (your version kept as ${c.keptAs})` : ''}`),
        ];
        out(lines.join('\n'), s);
        return 0;
      }
      case 'verify': {
        const r = await store.verify((d, t) => p.update(`verifying: ${d}/${t} chunks`));
        p.done();
        const lines = [`${r.ok ? 'ok' : 'DAMAGED'}: ${r.chunks} chunks (${mib(r.bytes)}), ${r.objects} objects, ${r.snapshots} snapshots checked`];
        for (const d of r.damage) {
          lines.push(`  ${d.kind} ${d.hash} (${d.where}): ${d.problem}`);
          for (const f of d.affects.slice(0, 20)) lines.push(`    affects ${f}`);
          if (d.affects.length > 20) lines.push(`    … and ${d.affects.length - 20} more`);
        }
        out(lines.join('\n'), r);
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
        if (o.positional.length > 1) throw new UsageError('restore takes at most one snapshot id');
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
