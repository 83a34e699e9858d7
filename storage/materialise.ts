// Writing a snapshot's tree into a directory. Every file is written to a temp
// name in its own directory, fsynced, given its mode and mtime, then renamed over
// the real name, so a crash leaves either the old or the new file, never half of
// one. Temp names are recognisable and are swept on the next run.
import { randomBytes } from 'node:crypto';
import { readXattrs, sameXattrs, writeXattrs } from './xattrs.js';
import { chmod, lstat, lutimes, mkdir, open, readdir, readlink, rename, rm, rmdir, symlink, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BigIntStats } from 'node:fs';
import { IgnoreRules } from './ignore.js';
import { decodeManifest, decodeTree, type TreeEntry } from './objects.js';
import type { Store, WriteTxn } from './store.js';
import { entryMode, entryMtimeMs, readStatCache, statCacheEntry, statCacheKey, statMatches } from './snapshot.js';

const PARALLEL_FILES = 16;
/** setuid/setgid are never recreated from a snapshot: a peer must not be able to plant one. */
const SAFE_MODE_BITS = 0o1777;
const TEMP_PREFIX = '.roamtmp-';
export function isTempName(name: string): boolean { return name.startsWith(TEMP_PREFIX); }
/** Seconds for utimes: the middle of the millisecond, so float rounding cannot land in the one before. */
function toSeconds(ms: number): number { return (ms + 0.5) / 1000; }
function tempName(): string { return TEMP_PREFIX + randomBytes(6).toString('hex'); }

export interface MaterialiseStats {
  filesWritten: number; filesUnchanged: number; linksWritten: number; dirsCreated: number; removed: number; bytesWritten: number;
  /** Paths left alone: changed since the guard's snapshot, or content unavailable. */
  skipped: Array<{ path: string; reason: string }>;
}

export interface MaterialiseOptions {
  /** Local ignore rules (default: the target's .roamignore). Ignored paths are never written or deleted. */
  ignore?: IgnoreRules;
  /**
   * Called before a path that exists is overwritten or deleted; return false to
   * leave it alone (sync uses this so an edit made during the sync is never lost).
   */
  guard?: (rel: string, st: BigIntStats) => Promise<boolean>;
  /** Paths to skip entirely (e.g. files whose content did not arrive). */
  skip?: Set<string>;
  /** Remove paths the snapshot does not have (default true; false only adds and updates). */
  deleteExtra?: boolean;
  onProgress?: (s: MaterialiseStats) => void;
}

/** Makes `dir` match the tree `rootTree` (within ignore rules and the guard). */
export async function materialise(store: Store, rootTree: string, dir: string, opts: MaterialiseOptions = {}): Promise<MaterialiseStats> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const ignore = opts.ignore ?? (await IgnoreRules.load(root));
  const stats: MaterialiseStats = { filesWritten: 0, filesUnchanged: 0, linksWritten: 0, dirsCreated: 0, removed: 0, bytesWritten: 0, skipped: [] };
  const ctx: Ctx = { store, root, ignore, stats, opts };
  await store.write(async (txn) => { await writeDir(ctx, txn, rootTree, ''); });
  return stats;
}

interface Ctx { store: Store; root: string; ignore: IgnoreRules; stats: MaterialiseStats; opts: MaterialiseOptions }

async function lstatOrNull(p: string): Promise<BigIntStats | null> {
  try { return await lstat(p, { bigint: true }); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

async function allowed(ctx: Ctx, rel: string, st: BigIntStats): Promise<boolean> {
  if (!ctx.opts.guard || (await ctx.opts.guard(rel, st))) return true;
  ctx.stats.skipped.push({ path: rel, reason: 'changed locally during the sync; left as is' });
  return false;
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

async function writeDir(ctx: Ctx, txn: WriteTxn, treeId: string, rel: string): Promise<void> {
  const abs = rel ? join(ctx.root, rel) : ctx.root;
  const tree = decodeTree(await ctx.store.needObject(treeId));
  const wanted = new Map(tree.entries.map((e) => [e.name, e]));
  let changed = false;
  for (const name of await readdir(abs)) {
    const childRel = rel ? `${rel}/${name}` : name;
    if (isTempName(name)) { await rm(join(abs, name), { recursive: true, force: true }); continue; }
    if (join(abs, name) === ctx.store.dir) continue; // the store itself is never ours to delete
    if (wanted.has(name) || ctx.opts.skip?.has(childRel) || ctx.opts.deleteExtra === false) continue;
    const st = await lstatOrNull(join(abs, name));
    if (!st || ctx.ignore.ignores(childRel, st.isDirectory())) continue;
    if (await removeTree(ctx, join(abs, name), childRel, st)) changed = true;
  }
  const todo = tree.entries.filter((e) => {
    const childRel = rel ? `${rel}/${e.name}` : e.name;
    return !ctx.opts.skip?.has(childRel) && !ctx.ignore.ignores(childRel, e.kind === 'dir') && join(abs, e.name) !== ctx.store.dir;
  }).map((e) => ({ ...e, mode: e.mode & SAFE_MODE_BITS }));
  const one = async (e: TreeEntry) => {
    if (await writeEntry(ctx, txn, e, join(abs, e.name), rel ? `${rel}/${e.name}` : e.name)) changed = true;
  };
  // Files of one directory are written in parallel: their fsyncs overlap.
  const files = todo.filter((e) => e.kind !== 'dir');
  for (let i = 0; i < files.length; i += PARALLEL_FILES) await Promise.all(files.slice(i, i + PARALLEL_FILES).map(one));
  for (const e of todo) if (e.kind === 'dir') await one(e);
  if (changed) await fsyncDir(abs);
}

/** Deletes a path the snapshot does not have, keeping anything ignored or guarded inside it. */
async function removeTree(ctx: Ctx, abs: string, rel: string, st: BigIntStats): Promise<boolean> {
  if (abs === ctx.store.dir) return false;
  if (st.isDirectory()) {
    for (const name of await readdir(abs)) {
      const childRel = `${rel}/${name}`;
      const cst = await lstatOrNull(join(abs, name));
      if (!cst || ctx.ignore.ignores(childRel, cst.isDirectory())) continue;
      await removeTree(ctx, join(abs, name), childRel, cst);
    }
    try { await rmdir(abs); ctx.stats.removed++; return true; } catch { return false; } // not empty: something kept
  }
  if (!(await allowed(ctx, rel, st))) return false;
  await rm(abs, { force: true });
  ctx.stats.removed++;
  return true;
}

async function writeEntry(ctx: Ctx, txn: WriteTxn, e: TreeEntry, abs: string, rel: string): Promise<boolean> {
  let st = await lstatOrNull(abs);
  if (e.kind === 'dir') {
    let created = false;
    if (st && !st.isDirectory()) {
      if (!(await allowed(ctx, rel, st))) return false;
      await rm(abs, { force: true });
      st = null;
    }
    if (!st) { await mkdir(abs, { mode: 0o700 }); ctx.stats.dirsCreated++; created = true; }
    await writeDir(ctx, txn, e.hash, rel);
    writeXattrs(abs, e.xattrs);
    await chmod(abs, e.mode);
    await utimes(abs, toSeconds(e.mtimeMs), toSeconds(e.mtimeMs));
    return created;
  }
  if (st?.isDirectory()) {
    // A directory stands where the snapshot has a file or link: remove it (within guard/ignore).
    await removeTree(ctx, abs, rel, st);
    st = await lstatOrNull(abs);
    if (st) { ctx.stats.skipped.push({ path: rel, reason: 'a directory with kept contents is in the way' }); return false; }
  }
  if (e.kind === 'link') {
    if (st?.isSymbolicLink() && (await readlink(abs)) === e.target) return false;
    if (st && !(await allowed(ctx, rel, st))) return false;
    const tmp = join(abs, '..', tempName());
    await symlink(e.target, tmp);
    await lutimes(tmp, toSeconds(e.mtimeMs), toSeconds(e.mtimeMs)).catch(() => undefined);
    await rename(tmp, abs);
    ctx.stats.linksWritten++;
    return true;
  }
  // A regular file: unchanged content (known from the stat cache) only needs metadata.
  if (st?.isFile()) {
    const cached = await readStatCache(ctx.store, ctx.root, rel);
    if (cached && cached.manifest === e.hash && statMatches(cached, st)) {
      const xattrsDiffer = !sameXattrs(readXattrs(abs), e.xattrs);
      if (xattrsDiffer) writeXattrs(abs, e.xattrs);
      if (entryMode(st) !== e.mode) await chmod(abs, e.mode);
      if (entryMtimeMs(st) !== e.mtimeMs) await utimes(abs, toSeconds(e.mtimeMs), toSeconds(e.mtimeMs));
      if (entryMode(st) !== e.mode || entryMtimeMs(st) !== e.mtimeMs || xattrsDiffer) {
        const now = await lstat(abs, { bigint: true });
        txn.put(statCacheKey(ctx.root, rel), JSON.stringify(statCacheEntry(now, e.hash)));
      }
      ctx.stats.filesUnchanged++;
      return false;
    }
  }
  if (st && !(await allowed(ctx, rel, st))) return false;
  const tmp = join(abs, '..', tempName());
  try {
    const manifest = decodeManifest(await ctx.store.needObject(e.hash));
    const fh = await open(tmp, 'wx', 0o600);
    try {
      let pos = 0;
      for (const h of manifest.chunks) {
        const bytes = await ctx.store.getChunk(h); // hash-checked: damaged data is never written
        await fh.write(bytes, 0, bytes.length, pos);
        pos += bytes.length;
      }
      if (pos !== manifest.size) throw new Error(`manifest size ${manifest.size} does not match its chunks (${pos})`);
      await fh.sync();
    } finally { await fh.close(); }
    writeXattrs(tmp, e.xattrs);
    await chmod(tmp, e.mode);
    await utimes(tmp, toSeconds(e.mtimeMs), toSeconds(e.mtimeMs));
    await rename(tmp, abs);
    ctx.stats.bytesWritten += manifest.size;
  } catch (err) {
    await rm(tmp, { force: true });
    ctx.stats.skipped.push({ path: rel, reason: (err as Error).message });
    return false;
  }
  ctx.stats.filesWritten++;
  const now = await lstat(abs, { bigint: true });
  txn.put(statCacheKey(ctx.root, rel), JSON.stringify(statCacheEntry(now, e.hash)));
  if ((ctx.stats.filesWritten + ctx.stats.filesUnchanged) % 200 === 0) ctx.opts.onProgress?.(ctx.stats);
  return true;
}
