// Three-way merge of snapshot trees: local (ours), remote (theirs) and base (the
// remote snapshot we last merged, i.e. the last state both sides agreed on).
// Trees are flattened to path → entry for files and links; directories follow
// the files under them. Nothing is ever dropped silently: a file changed on both
// sides keeps both versions, and a deletion never wins over a modification.
import { decodeTree, encodeTree, type TreeEntry } from './objects.js';
import type { WriteTxn } from './store.js';
import { sameXattrs } from './xattrs.js';

export type ReadObject = (id: string) => Promise<string>;

export interface FlatTree { files: Map<string, TreeEntry>; dirs: Map<string, TreeEntry> }

export async function flattenTree(read: ReadObject, root: string): Promise<FlatTree> {
  const out: FlatTree = { files: new Map(), dirs: new Map() };
  const stack: Array<[string, string]> = [[root, '']];
  while (stack.length) {
    const [id, prefix] = stack.pop()!;
    for (const e of decodeTree(await read(id)).entries) {
      const p = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.kind === 'dir') { out.dirs.set(p, e); stack.push([e.hash, p]); } else out.files.set(p, e);
    }
  }
  return out;
}

export type ConflictKind = 'both-modified' | 'deleted-here-modified-there' | 'modified-here-deleted-there' | 'file-vs-directory';

export interface MergeConflict {
  path: string;
  kind: ConflictKind;
  /** Where the local version was kept, when it was renamed. */
  keptAs?: string;
}

export interface MergeOptions {
  /** This machine's name: goes into the names of conflict copies. */
  machine: string;
  now: Date;
  /** Remote paths whose content did not arrive: the local state is kept for them. */
  unavailable?: Set<string>;
  /**
   * Remote snapshots an interrupted sync from this peer had started to materialise:
   * a local version equal to one of them came from the peer, not from a local edit.
   */
  pending?: FlatTree[];
}

export interface MergeResult { tree: FlatTree; conflicts: MergeConflict[]; changedFromLocal: number }

/** Content identity: what makes two versions of a path the same for merging (mtime is not). */
function same(a: TreeEntry | undefined, b: TreeEntry | undefined): boolean {
  if (!a || !b) return a === b;
  return a.kind === b.kind && a.hash === b.hash && a.target === b.target && a.mode === b.mode && sameXattrs(a.xattrs, b.xattrs);
}

export function conflictStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

function safeMachine(m: string): string { return m.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'unknown'; }

export function mergeTrees(local: FlatTree, remote: FlatTree, base: FlatTree | null, opts: MergeOptions): MergeResult {
  const files = new Map<string, TreeEntry>();
  const conflicts: MergeConflict[] = [];
  const renamed: Array<[string, TreeEntry]> = [];
  const paths = new Set([...local.files.keys(), ...remote.files.keys()]);
  for (const p of paths) {
    const L = local.files.get(p);
    const R = remote.files.get(p);
    if (opts.unavailable?.has(p)) { if (L) files.set(p, L); continue; }
    if (same(L, R)) { files.set(p, L!); continue; }
    if (!base) {
      // No common snapshot yet: additions on either side are kept, nothing is deleted.
      if (!L) { files.set(p, R!); continue; }
      if (!R) { files.set(p, L); continue; }
    }
    const B = base?.files.get(p);
    if (base && same(L, B)) { if (R) files.set(p, R); continue; } // only the remote changed
    if (base && same(R, B)) { if (L) files.set(p, L); continue; } // only we changed
    // Both sides changed it (or there is no base to tell). If our version is what an
    // interrupted earlier sync brought from this peer, the peer simply moved on: take theirs.
    if (opts.pending?.some((P) => same(L, P.files.get(p)))) { if (R) files.set(p, R); continue; }
    if (!L) { files.set(p, R!); conflicts.push({ path: p, kind: 'deleted-here-modified-there' }); continue; }
    if (!R) { files.set(p, L); conflicts.push({ path: p, kind: 'modified-here-deleted-there' }); continue; }
    files.set(p, R);
    renamed.push([p, L]);
  }
  // A file on one side where the other has a directory: the file steps aside.
  const dirPrefixes = new Set<string>();
  for (const p of files.keys()) for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) dirPrefixes.add(p.slice(0, i));
  for (const [p, e] of [...files]) {
    if (dirPrefixes.has(p)) { files.delete(p); renamed.push([p, e]); }
  }
  const stamp = conflictStamp(opts.now);
  for (const [p, e] of renamed) {
    let name = `${p}.conflict-${safeMachine(opts.machine)}-${stamp}`;
    for (let n = 2; files.has(name) || dirPrefixes.has(name); n++) name = `${p}.conflict-${safeMachine(opts.machine)}-${stamp}-${n}`;
    files.set(name, { ...e, name: name.slice(name.lastIndexOf('/') + 1) });
    conflicts.push({ path: p, kind: dirPrefixes.has(p) && !remote.files.has(p) ? 'file-vs-directory' : 'both-modified', keptAs: name });
  }
  // Directories: kept if either side has them and the other did not delete them, or if anything lives below.
  const dirs = new Map<string, TreeEntry>();
  const dirPaths = new Set([...local.dirs.keys(), ...remote.dirs.keys()]);
  for (const p of dirPaths) {
    const inL = local.dirs.get(p); const inR = remote.dirs.get(p); const inB = base?.dirs.has(p) ?? false;
    const keep = (inL && (inR || !inB)) || (inR && (inL || !inB));
    if (keep) dirs.set(p, (inR ?? inL)!);
  }
  for (const p of files.keys()) {
    for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) {
      const d = p.slice(0, i);
      if (!dirs.has(d)) {
        const known = remote.dirs.get(d) ?? local.dirs.get(d);
        dirs.set(d, known ?? { name: d.slice(d.lastIndexOf('/') + 1), kind: 'dir', mode: 0o755, mtimeMs: opts.now.getTime(), size: 0, hash: '', target: '' });
      }
    }
  }
  let changedFromLocal = 0;
  for (const [p, e] of files) if (!same(local.files.get(p), e)) changedFromLocal++;
  for (const p of local.files.keys()) if (!files.has(p)) changedFromLocal++;
  return { tree: { files, dirs }, conflicts, changedFromLocal };
}

/** Writes the tree objects of a flattened tree, bottom-up; returns the root id. */
export async function buildTree(txn: WriteTxn, tree: FlatTree): Promise<string> {
  const children = new Map<string, TreeEntry[]>();
  const add = (parent: string, e: TreeEntry) => { let l = children.get(parent); if (!l) children.set(parent, l = []); l.push(e); };
  const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
  for (const [p, e] of tree.files) add(parentOf(p), e);
  // Deepest directories first, so each one's id is known before its parent is written.
  const dirs = [...tree.dirs.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
  for (const d of dirs) {
    const id = await txn.putObject(encodeTree(children.get(d) ?? []));
    add(parentOf(d), { ...tree.dirs.get(d)!, hash: id, kind: 'dir', size: 0, target: '' });
  }
  return txn.putObject(encodeTree(children.get('') ?? []));
}
