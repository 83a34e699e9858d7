// A generated home directory for the `store` benchmark: many small files (text-like,
// compressible), some medium ones and a few large ones (half random), in nested folders;
// and the "small change" applied between syncs.
import { randomFillSync } from 'node:crypto';
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TreeShape { small: number; medium: number; large: number; smallBytes: number; mediumBytes: number; largeBytes: number }

export const QUICK_TREE: TreeShape = { small: 2000, medium: 40, large: 2, smallBytes: 8 << 10, mediumBytes: 1 << 20, largeBytes: 48 << 20 };
export const FULL_TREE: TreeShape = { small: 8000, medium: 160, large: 6, smallBytes: 8 << 10, mediumBytes: 1 << 20, largeBytes: 96 << 20 };

export const treeBytes = (s: TreeShape) => s.small * s.smallBytes + s.medium * s.mediumBytes + s.large * s.largeBytes;

/** Half random, half a repeated line: roughly what documents and binaries mixed look like to a compressor. */
function content(bytes: number, seedLine: string): Buffer {
  const b = Buffer.alloc(bytes);
  const half = bytes >> 1;
  randomFillSync(b, 0, half);
  const line = Buffer.from(`${seedLine} lorem ipsum dolor sit amet\n`);
  for (let off = half; off < bytes; off += line.length) line.copy(b, off, 0, Math.min(line.length, bytes - off));
  return b;
}

/** Writes the tree under `dir` (which must not exist yet or be empty). */
export function generateTree(dir: string, s: TreeShape): void {
  for (let i = 0; i < s.small; i++) {
    const sub = join(dir, 'docs', `d${i % 50}`, `e${i % 7}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `note-${i}.txt`), content(s.smallBytes, `note ${i}`));
  }
  mkdirSync(join(dir, 'photos'), { recursive: true });
  for (let i = 0; i < s.medium; i++) writeFileSync(join(dir, 'photos', `img-${i}.jpg`), content(s.mediumBytes, `img ${i}`));
  mkdirSync(join(dir, 'vm-images'), { recursive: true });
  for (let i = 0; i < s.large; i++) writeFileSync(join(dir, 'vm-images', `disk-${i}.img`), content(s.largeBytes, `disk ${i}`));
}

/**
 * The "small change" of run `n`: 1 MiB rewritten in the middle of a large file, one medium
 * file replaced, 10 new small files. Returns the bytes written.
 */
export function smallChange(dir: string, s: TreeShape, n: number): number {
  const fd = openSync(join(dir, 'vm-images', `disk-${n % s.large}.img`), 'r+');
  const patch = content(1 << 20, `patch ${n}`);
  try { writeSync(fd, patch, 0, patch.length, Math.floor(s.largeBytes / 2 / 4096) * 4096); } finally { closeSync(fd); }
  writeFileSync(join(dir, 'photos', `img-${n % s.medium}.jpg`), content(s.mediumBytes, `img ${n} v${n}`));
  const sub = join(dir, 'docs', `new-${n}`);
  mkdirSync(sub, { recursive: true });
  for (let i = 0; i < 10; i++) writeFileSync(join(sub, `added-${i}.txt`), content(s.smallBytes, `added ${n} ${i}`));
  return patch.length + s.mediumBytes + 10 * s.smallBytes;
}
