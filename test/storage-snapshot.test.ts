import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Store } from '../storage/store.js';
import { snapshotTree } from '../storage/snapshot.js';
import { materialise } from '../storage/materialise.js';
import { IgnoreRules } from '../storage/ignore.js';
import { tempDir } from './storage-helpers.js';
import { describeTree, generateTree } from './storage-tree.js';

describe('storage: snapshots and materialise', function () {
  let t: { path: string; cleanup: () => Promise<void> };
  before(async () => { t = await tempDir('snap'); });
  after(async () => { await t.cleanup(); });

  it('snapshots a large tree, materialises it elsewhere identically, and rescans without reading files', async () => {
    const src = join(t.path, 'src'); const dst = join(t.path, 'dst');
    await generateTree(src, { smallFiles: 2000, bigFiles: 3, bigSize: 2 * 1024 * 1024 + 777, seed: 11 });
    await new Promise((r) => setTimeout(r, 50)); // out of the racy-timestamp window
    const store = await Store.open(join(t.path, 'store'));
    try {
      const first = await snapshotTree(store, src);
      assert.equal(first.stats.files, 2000 + 4);
      assert.equal(first.stats.filesRead, 2004);
      assert.equal(first.stats.links, 3);
      const again = await snapshotTree(store, src);
      assert.equal(again.stats.filesRead, 0, 'a rescan with no change must read no file');
      assert.equal(again.record.root, first.record.root);
      // big-copy.bin dedupes against big0.bin: its chunks were not stored twice.
      const v = await store.verify();
      assert.ok(v.ok);
      assert.ok(v.bytes < first.stats.bytes - 2 * 1024 * 1024, `stored ${v.bytes} of ${first.stats.bytes}`);

      await mkdir(dst);
      await writeFile(join(dst, 'stale.txt'), 'not in the snapshot');
      const m = await materialise(store, first.record.root, dst);
      assert.equal(m.removed, 1);
      assert.deepEqual(m.skipped, []);
      assert.deepEqual(await describeTree(dst), await describeTree(src));
      const dstScan = await snapshotTree(store, dst, { ref: null });
      assert.equal(dstScan.record.root, first.record.root);
      assert.equal(dstScan.stats.filesRead, 0, 'materialise fills the stat cache, so the copy is not re-read');

      // One change: only that file is read, and the root moves.
      await writeFile(join(src, 'd1/e1/f8.txt'), 'changed');
      const third = await snapshotTree(store, src);
      assert.equal(third.stats.filesRead, 1);
      assert.notEqual(third.record.root, first.record.root);
      const m2 = await materialise(store, third.record.root, dst);
      assert.equal(m2.filesWritten, 1);
      assert.equal(await readFile(join(dst, 'd1/e1/f8.txt'), 'utf8'), 'changed');
      assert.ok((await readdir(dst)).every((n) => !n.startsWith('.roamtmp-')));
    } finally { await store.close(); }
  });

  it('honours .roamignore when snapshotting and never deletes ignored files', async () => {
    const src = join(t.path, 'isrc'); const dst = join(t.path, 'idst');
    const files = ['a.log', 'keep.log', 'src/main.c', 'build/out.o', 'src/build/gen.c', 'deep/x/cache/c1', 'notes.md', 'tmp/t'];
    for (const f of files) { await mkdir(join(src, f, '..'), { recursive: true }); await writeFile(join(src, f), f); }
    await writeFile(join(src, '.roamignore'), '# comment\n*.log\n!keep.log\n/build/\n**/cache/\n/tmp\n');
    const store = await Store.open(join(t.path, 'istore'));
    try {
      const s = await snapshotTree(store, src);
      await mkdir(join(dst, 'build'), { recursive: true });
      await writeFile(join(dst, 'build', 'local.o'), 'mine');
      await writeFile(join(dst, 'debug.log'), 'mine too');
      await writeFile(join(dst, '.roamignore'), '*.log\n/build/\n');
      await materialise(store, s.record.root, dst);
      const got = [...(await describeTree(dst)).entries()].filter(([, n]) => n.kind === 'file').map(([p]) => p).sort();
      // keep.log is re-included by the sender but the receiver's own rules ignore *.log: not written there.
      assert.deepEqual(got, ['.roamignore', 'build/local.o', 'debug.log', 'notes.md', 'src/build/gen.c', 'src/main.c']);
      assert.equal(await readFile(join(dst, '.roamignore'), 'utf8'), await readFile(join(src, '.roamignore'), 'utf8'));
    } finally { await store.close(); }
  });

  it('parses the gitignore subset', () => {
    const r = IgnoreRules.parse('*.o\n/anchored\ndir/\n**/logs/**\n!important.o\na/**/z\n\\#hash\n');
    assert.ok(r.ignores('x.o', false) && r.ignores('deep/x.o', false));
    assert.ok(!r.ignores('important.o', false));
    assert.ok(r.ignores('anchored', false) && !r.ignores('sub/anchored', false));
    assert.ok(r.ignores('dir', true) && !r.ignores('dir', false) && r.ignores('p/dir', true));
    assert.ok(r.ignores('x/logs/y/z', false));
    assert.ok(r.ignores('a/z', false) && r.ignores('a/b/c/z', false) && !r.ignores('b/a/z', false));
    assert.ok(r.ignores('#hash', false));
    assert.ok(r.ignoresWithParents('dir/inside.txt', false));
  });

  it('refuses a missing source directory with a clear error', async () => {
    const store = await Store.open(join(t.path, 'estore'));
    try {
      await assert.rejects(snapshotTree(store, join(t.path, 'nope')), /not a directory/);
      await rm(join(t.path, 'nope'), { force: true });
    } finally { await store.close(); }
  });
});

describe('storage: a store kept inside the home tree', () => {
  it('is neither snapshotted nor deleted by a restore with deletions', async () => {
    const t = await tempDir('inner');
    const home = join(t.path, 'home');
    await mkdir(join(home, 'docs'), { recursive: true });
    await writeFile(join(home, 'docs', 'a.txt'), 'a');
    const store = await Store.open(join(home, '.local', 'share', 'roam', 'store'));
    try {
      const s = await snapshotTree(store, home);
      const { flattenTree } = await import('../storage/merge.js');
      const flat = await flattenTree((id) => store.needObject(id), s.record.root);
      assert.deepEqual([...flat.files.keys()], ['docs/a.txt']);
      const m = await materialise(store, s.record.root, home);
      assert.deepEqual(m.skipped, []);
      assert.ok((await store.verify()).ok, 'the store survived');
      assert.ok((await readdir(join(home, '.local', 'share', 'roam', 'store', 'packs'))).length > 0);
    } finally { await store.close(); await t.cleanup(); }
  });
});
