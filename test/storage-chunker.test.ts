import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AVG_CHUNK, MAX_CHUNK, MIN_CHUNK, chunkBuffer, chunkFile } from '../storage/chunker.js';
import { GEAR } from '../storage/gear.js';
import { hashHex } from '../storage/hash.js';
import { randomBuffer, seededRandom, tempDir } from './storage-helpers.js';

const hashes = (bufs: Uint8Array[]) => bufs.map((b) => hashHex(b));
function changedChunks(before: string[], after: string[]): number {
  const old = new Set(before);
  return after.filter((h) => !old.has(h)).length;
}

describe('storage: FastCDC chunker', () => {
  const data = randomBuffer(seededRandom(42), 8 * 1024 * 1024);

  it('has a full, varied gear table', () => {
    assert.equal(GEAR.length, 256);
    assert.ok(new Set(GEAR).size > 250, 'gear words should be distinct');
  });

  it('cuts deterministically, within min/max, near the average, and covers every byte', () => {
    const a = chunkBuffer(data);
    const b = chunkBuffer(Buffer.from(data));
    assert.deepEqual(hashes(a), hashes(b));
    assert.equal(a.reduce((n, c) => n + c.length, 0), data.length);
    a.slice(0, -1).forEach((c) => { assert.ok(c.length >= MIN_CHUNK && c.length <= MAX_CHUNK, `chunk of ${c.length}`); });
    const avg = data.length / a.length;
    assert.ok(avg > AVG_CHUNK / 2 && avg < AVG_CHUNK * 2, `average ${avg}`);
  });

  it('forces a cut at MAX_CHUNK on data with no boundary', () => {
    const zeros = Buffer.alloc(1024 * 1024);
    const cs = chunkBuffer(zeros);
    assert.ok(cs.every((c) => c.length <= MAX_CHUNK));
    assert.equal(cs[0]!.length, MAX_CHUNK);
  });

  it('a 4 KiB insertion in the middle of 8 MiB changes at most 2 chunks', () => {
    const mid = data.length / 2;
    const ins = randomBuffer(seededRandom(7), 4096);
    const edited = Buffer.concat([data.subarray(0, mid), ins, data.subarray(mid)]);
    assert.ok(changedChunks(hashes(chunkBuffer(data)), hashes(chunkBuffer(edited))) <= 2);
  });

  it('a 4 KiB in-place change changes at most 2 chunks', () => {
    const edited = Buffer.from(data);
    randomBuffer(seededRandom(9), 4096).copy(edited, 3 * 1024 * 1024 + 123);
    const n = changedChunks(hashes(chunkBuffer(data)), hashes(chunkBuffer(edited)));
    assert.ok(n >= 1 && n <= 2, `${n} chunks changed`);
  });

  it('streams a file into the same chunks as the in-memory chunker', async () => {
    const t = await tempDir('chunk');
    try {
      const p = join(t.path, 'big');
      await writeFile(p, data);
      const streamed: string[] = [];
      for await (const c of chunkFile(p)) streamed.push(hashHex(c));
      assert.deepEqual(streamed, hashes(chunkBuffer(data)));
      await writeFile(join(t.path, 'empty'), '');
      const none: Buffer[] = [];
      for await (const c of chunkFile(join(t.path, 'empty'))) none.push(c);
      assert.equal(none.length, 0);
    } finally { await t.cleanup(); }
  });
});
