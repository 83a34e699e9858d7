// The Merkle objects of a snapshot and their canonical encoding. An object's name
// is the hash of its encoding, so the encoding must be byte-identical on every
// machine: fields are written in a fixed order and tree entries sorted by name.
// Objects also arrive from peers, so decoding checks every field.
import { hashHex, isHashHex } from './hash.js';
import { xattrListProblem, type XattrList } from './xattrs.js';

export type EntryKind = 'file' | 'dir' | 'link';

export interface TreeEntry {
  name: string;
  kind: EntryKind;
  /** Permission bits (0o7777 at most). */
  mode: number;
  /** Modification time in whole milliseconds since the epoch. */
  mtimeMs: number;
  /** Content bytes for files, 0 otherwise. */
  size: number;
  /** Manifest hash for files, tree hash for dirs, empty for links. */
  hash: string;
  /** Symlink target, empty otherwise. */
  target: string;
  /** user.* extended attributes of files and dirs, sorted by name; absent when there are none. */
  xattrs?: XattrList;
}

export interface TreeObject { type: 'tree'; entries: TreeEntry[] }
export interface FileManifest { type: 'file'; size: number; chunks: string[] }
export interface SnapshotRecord {
  type: 'snapshot';
  root: string;
  /** Milliseconds since the epoch when the snapshot was taken. */
  time: number;
  machine: string;
  files: number;
  bytes: number;
}

/** Largest encoded object the store accepts (bounds a manifest to ~8 GB of file). */
export const MAX_OBJECT_BYTES = 8 * 1024 * 1024;
const MAX_NAME_BYTES = 255;
const MAX_TARGET_BYTES = 4096;
const MAX_MACHINE_CHARS = 128;

export function encodeTree(entries: TreeEntry[]): string {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return JSON.stringify({
    type: 'tree',
    entries: sorted.map((e) => ({
      name: e.name, kind: e.kind, mode: e.mode, mtimeMs: e.mtimeMs, size: e.size, hash: e.hash, target: e.target,
      // Only when present, so a tree without attributes encodes (and hashes) as it always did.
      ...(e.xattrs?.length ? { xattrs: e.xattrs } : {}),
    })),
  });
}

export function encodeManifest(size: number, chunks: string[]): string {
  return JSON.stringify({ type: 'file', size, chunks });
}

export function encodeSnapshot(r: Omit<SnapshotRecord, 'type'>): string {
  return JSON.stringify({ type: 'snapshot', root: r.root, time: r.time, machine: r.machine, files: r.files, bytes: r.bytes });
}

export function objectId(encoded: string): string {
  return hashHex(Buffer.from(encoded, 'utf8'));
}

export class ObjectFormatError extends Error {}

function fail(what: string): never { throw new ObjectFormatError(`malformed object: ${what}`); }
function isUint(n: unknown, max = Number.MAX_SAFE_INTEGER): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;
}

/** A name safe to join onto a directory: one path component, no tricks. */
export function isSafeName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name !== '.' && name !== '..' &&
    !name.includes('/') && !name.includes('\0') && Buffer.byteLength(name) <= MAX_NAME_BYTES;
}

function parse(encoded: string): Record<string, unknown> {
  if (encoded.length > MAX_OBJECT_BYTES) fail('too large');
  let v: unknown;
  try { v = JSON.parse(encoded); } catch { fail('not JSON'); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('not an object');
  return v as Record<string, unknown>;
}

export function decodeTree(encoded: string): TreeObject {
  const v = parse(encoded);
  if (v.type !== 'tree' || !Array.isArray(v.entries)) fail('not a tree');
  const seen = new Set<string>();
  const entries = (v.entries as unknown[]).map((raw): TreeEntry => {
    if (typeof raw !== 'object' || raw === null) fail('tree entry');
    const e = raw as Record<string, unknown>;
    if (!isSafeName(e.name)) fail(`entry name ${JSON.stringify(e.name)}`);
    if (seen.has(e.name)) fail(`duplicate entry ${e.name}`);
    seen.add(e.name);
    if (e.kind !== 'file' && e.kind !== 'dir' && e.kind !== 'link') fail('entry kind');
    if (!isUint(e.mode, 0o7777) || !isUint(e.mtimeMs) || !isUint(e.size)) fail('entry metadata');
    if (typeof e.hash !== 'string' || typeof e.target !== 'string') fail('entry hash/target');
    if (e.kind === 'link') {
      if (e.hash !== '' || e.target === '' || Buffer.byteLength(e.target) > MAX_TARGET_BYTES || e.target.includes('\0')) fail('link entry');
    } else if (!isHashHex(e.hash) || e.target !== '') fail('entry hash');
    const entry: TreeEntry = { name: e.name, kind: e.kind, mode: e.mode, mtimeMs: e.mtimeMs, size: e.size, hash: e.hash, target: e.target };
    if (e.xattrs !== undefined) {
      const problem = xattrListProblem(e.xattrs);
      if (problem || e.kind === 'link' || (e.xattrs as unknown[]).length === 0) fail(`entry ${e.name} extended attributes: ${problem ?? 'not allowed here'}`);
      entry.xattrs = e.xattrs as XattrList;
    }
    return entry;
  });
  return { type: 'tree', entries };
}

export function decodeManifest(encoded: string): FileManifest {
  const v = parse(encoded);
  if (v.type !== 'file' || !isUint(v.size) || !Array.isArray(v.chunks)) fail('not a file manifest');
  if (!(v.chunks as unknown[]).every(isHashHex)) fail('manifest chunk hash');
  return { type: 'file', size: v.size, chunks: v.chunks as string[] };
}

export function decodeSnapshot(encoded: string): SnapshotRecord {
  const v = parse(encoded);
  if (v.type !== 'snapshot' || !isHashHex(v.root) || !isUint(v.time) || !isUint(v.files) || !isUint(v.bytes)) fail('not a snapshot');
  if (typeof v.machine !== 'string' || v.machine.length > MAX_MACHINE_CHARS) fail('snapshot machine');
  return { type: 'snapshot', root: v.root, time: v.time, machine: v.machine, files: v.files, bytes: v.bytes };
}

/** The objects a decoded object points at (for walks: gc, verify, sync). */
export function childObjects(encoded: string): { trees: string[]; manifests: string[]; chunks: string[] } {
  const v = parse(encoded);
  if (v.type === 'tree') {
    const t = decodeTree(encoded);
    return {
      trees: t.entries.filter((e) => e.kind === 'dir').map((e) => e.hash),
      manifests: t.entries.filter((e) => e.kind === 'file').map((e) => e.hash),
      chunks: [],
    };
  }
  if (v.type === 'file') return { trees: [], manifests: [], chunks: decodeManifest(encoded).chunks };
  if (v.type === 'snapshot') return { trees: [decodeSnapshot(encoded).root], manifests: [], chunks: [] };
  fail('unknown type');
}
