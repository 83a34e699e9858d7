// The user.* extended attributes a snapshot carries, as they sit in a tree
// entry: [name, base64 value] pairs sorted by name. Reading and writing go
// through the native addon (Node has no xattr API); host/xattr.cc keeps the
// security.*, trusted.* and system.* namespaces out — they are host policy.
import { loadNative } from '../native/index.js';

export type XattrList = [string, string][];

export const MAX_XATTRS = 64;
export const MAX_XATTR_NAME_BYTES = 255;
export const MAX_XATTR_VALUE_BYTES = 64 * 1024;

/** A path's user.* attributes (none on a filesystem without them). Never follows a symlink. */
export function readXattrs(path: string): XattrList {
  return loadNative().readXattrs(path).map(([name, value]) => [name, value.toString('base64')]);
}

/** Makes a path's user.* attributes exactly `list`. */
export function writeXattrs(path: string, list: XattrList | undefined): void {
  loadNative().writeXattrs(path, (list ?? []).map(([name, b64]) => [name, Buffer.from(b64, 'base64')]));
}

export function sameXattrs(a: XattrList | undefined, b: XattrList | undefined): boolean {
  const x = a ?? []; const y = b ?? [];
  return x.length === y.length && x.every(([n, v], i) => n === y[i]![0] && v === y[i]![1]);
}

/** Checks a list that arrived in a tree object; returns an error text or undefined when it is well formed. */
export function xattrListProblem(v: unknown): string | undefined {
  if (!Array.isArray(v)) return 'not a list';
  if (v.length > MAX_XATTRS) return `more than ${MAX_XATTRS} attributes`;
  let prev = '';
  for (const item of v as unknown[]) {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string' || typeof item[1] !== 'string') return 'an attribute is not [name, base64]';
    const [name, b64] = item as [string, string];
    if (!name.startsWith('user.') || name.length <= 5 || Buffer.byteLength(name) > MAX_XATTR_NAME_BYTES || name.includes('\0')) return `attribute name ${JSON.stringify(name.slice(0, 64))}`;
    if (name <= prev) return 'attributes not sorted by name, or repeated';
    prev = name;
    if (b64.length > Math.ceil(MAX_XATTR_VALUE_BYTES / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return `attribute ${name} value`;
  }
  return undefined;
}
