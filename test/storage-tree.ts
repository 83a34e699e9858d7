// Test trees for the storage tests: generation and comparison.
import { chmod, lstat, mkdir, readFile, readdir, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBuffer, seededRandom } from './storage-helpers.js';

export interface TreeSpec { smallFiles: number; bigFiles: number; bigSize: number; seed: number }

/** Nested dirs of small files, a few large ones, duplicates, symlinks and varied modes. */
export async function generateTree(root: string, spec: TreeSpec): Promise<void> {
  const rand = seededRandom(spec.seed);
  await mkdir(root, { recursive: true });
  const modes = [0o644, 0o600, 0o755, 0o640];
  for (let i = 0; i < spec.smallFiles; i++) {
    const dir = join(root, `d${i % 10}`, `e${i % 7}`, i % 3 === 0 ? 'deep/er' : '');
    await mkdir(dir, { recursive: true });
    const p = join(dir, `f${i}.txt`);
    // Every 50th file duplicates another's content (dedupe).
    const body = i % 50 === 0 ? Buffer.from('duplicate content\n') : randomBuffer(rand, 200 + Math.floor(rand() * 3000));
    await writeFile(p, body);
    await chmod(p, modes[i % modes.length]!);
    await utimes(p, 1_600_000_000 + i, 1_600_000_000 + i + 0.123);
  }
  for (let i = 0; i < spec.bigFiles; i++) await writeFile(join(root, `big${i}.bin`), randomBuffer(rand, spec.bigSize));
  await writeFile(join(root, 'big-copy.bin'), await readFile(join(root, 'big0.bin')));
  await symlink('big0.bin', join(root, 'link-to-big'));
  await symlink('../d1', join(root, 'd0', 'link-up'));
  await symlink('/nonexistent/target', join(root, 'dangling'));
  await mkdir(join(root, 'empty-dir'));
  await chmod(join(root, 'd3'), 0o750);
}

export interface Node { kind: string; mode: number; mtimeMs: number; size: number; content?: string; target?: string }

/** Everything the tests compare about a tree, keyed by relative path. */
export async function describeTree(root: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, Node>> {
  const out = new Map<string, Node>();
  async function walk(rel: string): Promise<void> {
    for (const name of (await readdir(rel ? join(root, rel) : root)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const st = await lstat(join(root, r));
      const base = { mode: st.mode & 0o7777, mtimeMs: Math.floor(st.mtimeMs), size: st.isFile() ? st.size : 0 };
      if (st.isDirectory()) { out.set(r, { kind: 'dir', ...base, mtimeMs: 0 }); await walk(r); }
      else if (st.isSymbolicLink()) out.set(r, { kind: 'link', ...base, mode: 0, mtimeMs: 0, target: await readlink(join(root, r)) });
      else out.set(r, { kind: 'file', ...base, content: (await readFile(join(root, r))).toString('base64') });
    }
  }
  await walk('');
  return out;
}
