// What `roam home status` reports: the head snapshot, refs, and unresolved conflicts.
import { access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { K, prefixEnd, type Store } from './store.js';
import type { SnapshotRecord } from './objects.js';
import type { ConflictRecord } from './sync.js';

export interface HomeStatus {
  head: ({ id: string } & SnapshotRecord) | null;
  snapshots: number;
  refs: Record<string, string>;
  /** Conflicts whose kept copy still exists (deleting the copy resolves one). */
  conflicts: ConflictRecord[];
}

export async function listConflicts(store: Store, dir: string): Promise<ConflictRecord[]> {
  const root = resolve(dir);
  const prefix = `${K.conflict}${root}\0`;
  const out: ConflictRecord[] = [];
  for await (const [, v] of store.db.iterator({ gte: prefix, lt: prefixEnd(prefix) })) {
    let rec: ConflictRecord;
    try { rec = JSON.parse(v) as ConflictRecord; } catch { continue; }
    const stillThere = rec.keptAs ? await access(join(root, rec.keptAs)).then(() => true, () => false) : true;
    if (stillThere) out.push(rec);
  }
  return out;
}

/** Forgets conflict records (all, or those for the given paths). */
export async function clearConflicts(store: Store, dir: string, paths?: string[]): Promise<number> {
  const root = resolve(dir);
  const prefix = `${K.conflict}${root}\0`;
  const keys: string[] = [];
  for await (const k of store.db.keys({ gte: prefix, lt: prefixEnd(prefix) })) {
    if (!paths || paths.includes(k.slice(prefix.length))) keys.push(k);
  }
  await store.write(async (txn) => { for (const k of keys) txn.del(k); });
  return keys.length;
}

export async function homeStatus(store: Store, dir: string): Promise<HomeStatus> {
  const refs = Object.fromEntries(await store.listRefs());
  const snaps = await store.listSnapshots();
  const headId = refs.head;
  const head = headId ? snaps.find((s) => s.id === headId) ?? null : null;
  return { head, snapshots: snaps.length, refs, conflicts: await listConflicts(store, dir) };
}
