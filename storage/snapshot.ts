// Taking a snapshot of a directory tree: walk it, store file contents as chunks
// and manifests, build the Merkle tree bottom-up. A stat cache (level, keyed by
// root + path, checked against dev/ino/size/mtime/ctime) lets a rescan skip the
// contents of files that did not change, so a scan with no change reads no file.
import { lstat, readdir, readlink } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import { chunkFile } from './chunker.js';
import { IgnoreRules } from './ignore.js';
import { encodeManifest, encodeSnapshot, encodeTree, type SnapshotRecord, type TreeEntry } from './objects.js';
import { K, prefixEnd, type Store, type WriteTxn } from './store.js';
import { isTempName } from './materialise.js';
import { readXattrs } from './xattrs.js';
import type { BigIntStats } from 'node:fs';

export interface ScanStats {
  files: number; dirs: number; links: number; bytes: number;
  /** Files whose contents were read (not answered by the stat cache). */
  filesRead: number; bytesRead: number;
  ignored: number; skippedSpecial: number;
}

export interface SnapshotOptions {
  machine?: string;
  /** Ref to point at the new snapshot ('head' unless null). */
  ref?: string | null;
  ignore?: IgnoreRules;
  onProgress?: (s: ScanStats) => void;
}

export interface SnapshotResult { id: string; record: SnapshotRecord; stats: ScanStats }

/** What the stat cache remembers about a file the last time its contents were read. */
export interface StatCacheEntry { dev: string; ino: string; size: string; mtimeNs: string; ctimeNs: string; manifest: string }

export function statCacheKey(root: string, rel: string): string { return `${K.statCache}${root}\0${rel}`; }

export function statMatches(c: StatCacheEntry, st: BigIntStats): boolean {
  return c.dev === String(st.dev) && c.ino === String(st.ino) && c.size === String(st.size) &&
    c.mtimeNs === String(st.mtimeNs) && c.ctimeNs === String(st.ctimeNs);
}

export function statCacheEntry(st: BigIntStats, manifest: string): StatCacheEntry {
  return { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), manifest };
}

/** A file changed this close to the scan could change again within the same timestamp tick: do not trust its cache entry. */
const RACY_WINDOW_NS = 20_000_000n;

export function entryMode(st: { mode: number | bigint }): number { return Number(st.mode) & 0o7777; }
export function entryMtimeMs(st: BigIntStats): number { return Number(st.mtimeNs / 1_000_000n); }

export async function readStatCache(store: Store, root: string, rel: string): Promise<StatCacheEntry | undefined> {
  const v = await store.db.get(statCacheKey(root, rel));
  if (v === undefined) return undefined;
  try { return JSON.parse(v) as StatCacheEntry; } catch { return undefined; }
}

/** Snapshots `dir` into the store and (by default) points ref 'head' at it. */
export async function snapshotTree(store: Store, dir: string, opts: SnapshotOptions = {}): Promise<SnapshotResult> {
  const root = resolve(dir);
  const rootStat = await lstat(root).catch(() => null);
  if (!rootStat?.isDirectory()) throw new Error(`cannot snapshot ${root}: not a directory`);
  const ignore = opts.ignore ?? (await IgnoreRules.load(root));
  const stats: ScanStats = { files: 0, dirs: 0, links: 0, bytes: 0, filesRead: 0, bytesRead: 0, ignored: 0, skippedSpecial: 0 };
  const scanStartNs = BigInt(Date.now()) * 1_000_000n;
  const seen = new Set<string>();

  return store.write(async (txn) => {
    const rootTree = await scanDir(store, txn, root, '', ignore, stats, scanStartNs, seen, opts.onProgress);
    // Forget cache entries of paths that are gone.
    const prefix = statCacheKey(root, '');
    for await (const k of store.db.keys({ gte: prefix, lt: prefixEnd(prefix) })) {
      if (!seen.has(k.slice(prefix.length))) txn.del(k);
    }
    const record = { type: 'snapshot' as const, root: rootTree, time: Date.now(), machine: opts.machine ?? 'local', files: stats.files, bytes: stats.bytes };
    const id = txn.putSnapshot(encodeSnapshot(record));
    if (opts.ref !== null) txn.setRef(opts.ref ?? 'head', id);
    opts.onProgress?.(stats);
    return { id, record, stats };
  });
}

async function scanDir(
  store: Store, txn: WriteTxn, root: string, rel: string, ignore: IgnoreRules, stats: ScanStats,
  scanStartNs: bigint, seen: Set<string>, onProgress?: (s: ScanStats) => void,
): Promise<string> {
  const abs = rel ? join(root, rel) : root;
  const names = (await readdir(abs)).sort();
  const entries: TreeEntry[] = [];
  for (const name of names) {
    if (isTempName(name)) continue; // a write-then-rename in progress or left by a crash
    const childRel = rel ? `${rel}/${name}` : name;
    const childAbs = join(abs, name);
    if (childAbs === store.dir) continue; // a store inside the home (the default) never snapshots itself
    let st: BigIntStats;
    try { st = await lstat(childAbs, { bigint: true }); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // vanished mid-scan
      throw e;
    }
    const isDir = st.isDirectory();
    if (ignore.ignores(childRel, isDir)) { stats.ignored++; continue; }
    const base = { name, mode: entryMode(st), mtimeMs: entryMtimeMs(st) };
    // Links carry no user.* attributes (Linux allows none on them).
    const xattrs = st.isSymbolicLink() ? [] : readXattrs(childAbs);
    const withXattrs = xattrs.length ? { xattrs } : {};
    if (isDir) {
      stats.dirs++;
      const hash = await scanDir(store, txn, root, childRel, ignore, stats, scanStartNs, seen, onProgress);
      entries.push({ ...base, kind: 'dir', size: 0, hash, target: '', ...withXattrs });
    } else if (st.isSymbolicLink()) {
      stats.links++;
      entries.push({ ...base, kind: 'link', size: 0, hash: '', target: await readlink(childAbs) });
    } else if (st.isFile()) {
      seen.add(childRel);
      const manifest = await fileManifest(store, txn, root, childRel, childAbs, st, stats, scanStartNs);
      if (manifest === null) continue;
      stats.files++;
      stats.bytes += Number(manifest.size);
      entries.push({ ...base, kind: 'file', size: manifest.size, hash: manifest.id, target: '', ...withXattrs });
      if (onProgress && stats.files % 500 === 0) onProgress(stats);
    } else {
      stats.skippedSpecial++; // sockets, fifos, devices have no content to carry
    }
  }
  return txn.putObject(encodeTree(entries));
}

async function fileManifest(
  store: Store, txn: WriteTxn, root: string, rel: string, abs: string, st: BigIntStats, stats: ScanStats, scanStartNs: bigint,
): Promise<{ id: string; size: number } | null> {
  const cached = await readStatCache(store, root, rel);
  if (cached && statMatches(cached, st) && (await store.hasObject(cached.manifest))) {
    return { id: cached.manifest, size: Number(st.size) };
  }
  const chunks: string[] = [];
  let size = 0;
  try {
    for await (const chunk of chunkFile(abs)) {
      chunks.push(await txn.putChunk(chunk));
      size += chunk.length;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  stats.filesRead++;
  stats.bytesRead += size;
  const id = await txn.putObject(encodeManifest(size, chunks));
  const after = await lstat(abs, { bigint: true }).catch(() => null);
  // Cache only if the file held still while we read it and is not racily new.
  if (after && statMatches(statCacheEntry(st, id), after) && Number(after.size) === size && st.ctimeNs < scanStartNs - RACY_WINDOW_NS) {
    txn.put(statCacheKey(root, rel), JSON.stringify(statCacheEntry(st, id)));
  } else if (cached) {
    txn.del(statCacheKey(root, rel)); // stale: never let it vouch for this file again
  }
  return { id, size };
}
