// Shared by the storage tests: seeded randomness and temp dirs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** xorshift32: a small deterministic generator so every run sees the same data. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

export function randomBuffer(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    if (i + 4 <= n) { b.writeUInt32LE(Math.floor(rand() * 0x100000000), i); i += 3; } else b[i] = Math.floor(rand() * 256);
  }
  return b;
}

export async function tempDir(tag: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `roam-store-${tag}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}
