import assert from 'node:assert/strict';
import { open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Store, K } from '../storage/store.js';
import { RECORD_HEADER, packPath } from '../storage/pack.js';
import { encodeManifest, encodeSnapshot, encodeTree } from '../storage/objects.js';
import { randomBuffer, seededRandom, tempDir } from './storage-helpers.js';

/** Stores chunks as one file in a snapshot so gc treats them as live. */
async function keepAlive(store: Store, chunks: string[], size: number, name = 'f'): Promise<string> {
  return store.write(async (txn) => {
    const m = await txn.putObject(encodeManifest(size, chunks));
    const tree = await txn.putObject(encodeTree([{ name, kind: 'file', mode: 0o644, mtimeMs: 1, size, hash: m, target: '' }]));
    return txn.putSnapshot(encodeSnapshot({ root: tree, time: 1, machine: 't', files: 1, bytes: size }));
  });
}

describe('storage: pack store and index', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => { t = await tempDir('store'); });
  afterEach(async () => { await t.cleanup(); });

  it('puts and gets chunks, storing identical content once', async () => {
    const s = await Store.open(t.path);
    try {
      const rand = seededRandom(1);
      const a = randomBuffer(rand, 50_000); const b = randomBuffer(rand, 70_000);
      const [ha, hb, ha2] = await s.write(async (txn) => [await txn.putChunk(a), await txn.putChunk(b), await txn.putChunk(Buffer.from(a))]);
      assert.equal(ha, ha2);
      assert.deepEqual(await s.getChunk(ha!), a);
      assert.deepEqual(await s.getChunk(hb!), b);
      await s.write(async (txn) => { await txn.putChunk(a); });
      const packBytes = (await stat(packPath(t.path, 1))).size;
      assert.equal(packBytes, 2 * RECORD_HEADER + a.length + b.length, 'a duplicate chunk must not be appended again');
    } finally { await s.close(); }
  });

  it('verify finds a flipped byte in a pack and names the chunk and the files it hits', async () => {
    const s = await Store.open(t.path);
    const rand = seededRandom(2);
    const chunks = [randomBuffer(rand, 40_000), randomBuffer(rand, 40_000)];
    const hs = await s.write(async (txn) => Promise.all(chunks.map((c) => txn.putChunk(c))));
    const snap = await keepAlive(s, hs, 80_000, 'victim.txt');
    assert.equal((await s.verify()).ok, true);
    const loc = (await s.chunkLocation(hs[1]!))!;
    await s.close();
    const fh = await open(packPath(t.path, loc.pack), 'r+');
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, loc.offset + 100);
    one[0] ^= 0x40;
    await fh.write(one, 0, 1, loc.offset + 100);
    await fh.close();
    const s2 = await Store.open(t.path);
    try {
      const r = await s2.verify();
      assert.equal(r.ok, false);
      assert.equal(r.damage.length, 1);
      assert.equal(r.damage[0]!.hash, hs[1]);
      assert.match(r.damage[0]!.where, new RegExp(`pack ${loc.pack} offset ${loc.offset}`));
      assert.deepEqual(r.damage[0]!.affects, [`${snap}:victim.txt`]);
      await assert.rejects(s2.getChunk(hs[1]!), /damaged/);
      assert.deepEqual(await s2.getChunk(hs[0]!), chunks[0]);
    } finally { await s2.close(); }
  });

  it('gc reclaims unreferenced chunks and keeps referenced ones readable, even for a reader mid-way', async () => {
    const s = await Store.open(t.path);
    try {
      const rand = seededRandom(3);
      const live = Array.from({ length: 5 }, () => randomBuffer(rand, 30_000));
      const dead = Array.from({ length: 5 }, () => randomBuffer(rand, 30_000));
      const hs = await s.write(async (txn) => {
        const out: string[] = [];
        for (let i = 0; i < 5; i++) { out.push(await txn.putChunk(live[i]!)); await txn.putChunk(dead[i]!); }
        return out;
      });
      await keepAlive(s, hs, 150_000);
      const deadHash = (await s.write(async (txn) => txn.putChunk(dead[0]!)));
      const oldLoc = (await s.chunkLocation(hs[0]!))!;
      const readDuring = Promise.all(hs.map((h) => s.getChunk(h)));
      const r = await s.gc();
      assert.equal(r.chunksRemoved, 5);
      assert.equal(r.chunksMoved, 5);
      assert.ok(r.bytesReclaimed >= 5 * 30_000);
      assert.deepEqual(await readDuring, live);
      assert.equal(await s.hasChunk(deadHash), false);
      assert.notDeepEqual(await s.chunkLocation(hs[0]!), oldLoc);
      for (let i = 0; i < 5; i++) assert.deepEqual(await s.getChunk(hs[i]!), live[i]);
      assert.deepEqual((await readdir(join(t.path, 'packs'))).filter((n) => n === '000001.pack'), [], 'old pack deleted');
      assert.equal((await s.verify()).ok, true);
      // A reader that looked a chunk up before gc moved it: its read of the stale
      // location fails (pack gone) and it retries through the index.
      const real = s.chunkLocation.bind(s);
      let lookups = 0;
      s.chunkLocation = async (h: string) => (++lookups === 1 ? oldLoc : real(h));
      assert.deepEqual(await s.getChunk(hs[0]!), live[0]);
      assert.equal(lookups, 2);
    } finally { await s.close(); }
    const again = await Store.open(t.path);
    try { assert.equal((await again.verify()).ok, true); } finally { await again.close(); }
  });

  it('reopens after a torn write: the torn tail is cut off and the store verifies', async () => {
    const s = await Store.open(t.path);
    const rand = seededRandom(4);
    const c = randomBuffer(rand, 20_000);
    const h = await s.write(async (txn) => txn.putChunk(c));
    await s.close();
    const p = packPath(t.path, 1);
    const before = (await stat(p)).size;
    // A crash mid-append: half a record past the committed length.
    await writeFile(p, randomBuffer(rand, 30_000).subarray(0, 12_345), { flag: 'a' });
    // And a pack that was being created when the power went.
    await writeFile(packPath(t.path, 2), Buffer.alloc(100));
    const s2 = await Store.open(t.path);
    try {
      assert.equal((await stat(p)).size, before);
      await assert.rejects(stat(packPath(t.path, 2)));
      assert.deepEqual(await s2.getChunk(h), c);
      assert.equal((await s2.verify()).ok, true);
      const c2 = randomBuffer(rand, 25_000);
      const h2 = await s2.write(async (txn) => txn.putChunk(c2));
      assert.deepEqual(await s2.getChunk(h2), c2);
    } finally { await s2.close(); }
  });

  it('a failed transaction leaves nothing behind', async () => {
    const s = await Store.open(t.path);
    try {
      const c = randomBuffer(seededRandom(5), 20_000);
      let h = '';
      await assert.rejects(s.write(async (txn) => { h = await txn.putChunk(c); throw new Error('boom'); }), /boom/);
      assert.equal(await s.hasChunk(h), false);
      const n = await s.db.keys({ gte: K.chunk, lt: 'c0' }).all();
      assert.equal(n.length, 0);
      await s.write(async (txn) => txn.putChunk(c));
      assert.deepEqual(await s.getChunk(h), c);
      assert.equal((await s.verify()).ok, true);
    } finally { await s.close(); }
  });
});
