// Extended attributes in the home store: user.* attributes travel with files
// and directories; other namespaces and hostile lists do not.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNative } from '../native/index.js';
import { Store, snapshotTree, materialise } from '../storage/index.js';
import { decodeTree, encodeTree, ObjectFormatError, type TreeEntry } from '../storage/objects.js';

const native = () => loadNative();

describe('storage: extended attributes', function () {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'roam-xattr-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and writes exactly the user.* attributes of a path', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'x');
    native().writeXattrs(f, [['user.b', Buffer.from('2')], ['user.a', Buffer.from([0, 255])]]);
    assert.deepEqual(native().readXattrs(f).map(([n, v]) => [n, [...v]]), [['user.a', [0, 255]], ['user.b', [50]]]);
    native().writeXattrs(f, [['user.b', Buffer.from('3')]]);
    assert.deepEqual(native().readXattrs(f).map(([n, v]) => [n, v.toString()]), [['user.b', '3']], 'user.a is removed');
    assert.throws(() => native().writeXattrs(f, [['trusted.x', Buffer.from('1')]]), /not a user\.\* name/);
    assert.throws(() => native().writeXattrs(f, [['user.big', Buffer.alloc(64 * 1024 + 1)]]), /larger than 64 KiB/);
    assert.throws(() => native().readXattrs(join(dir, 'missing')), /No such file/);
  });

  it('a snapshot carries them and materialise puts them back; an attribute-only change makes a new snapshot', async () => {
    const home = join(dir, 'home'); const out = join(dir, 'out');
    mkdirSync(join(home, 'docs'), { recursive: true });
    writeFileSync(join(home, 'docs', 'report.txt'), 'quarterly');
    writeFileSync(join(home, 'plain.txt'), 'no attributes');
    symlinkSync('docs/report.txt', join(home, 'link'));
    native().writeXattrs(join(home, 'docs', 'report.txt'), [['user.xdg.origin.url', Buffer.from('https://example.invalid/r')]]);
    native().writeXattrs(join(home, 'docs'), [['user.colour', Buffer.from('blue')]]);
    const store = await Store.open(join(dir, 'store'));
    try {
      const first = await snapshotTree(store, home, { machine: 'test' });
      await materialise(store, first.record.root, out, {});
      assert.deepEqual(native().readXattrs(join(out, 'docs', 'report.txt')).map(([n, v]) => [n, v.toString()]), [['user.xdg.origin.url', 'https://example.invalid/r']]);
      assert.deepEqual(native().readXattrs(join(out, 'docs')).map(([n, v]) => [n, v.toString()]), [['user.colour', 'blue']]);
      assert.deepEqual(native().readXattrs(join(out, 'plain.txt')), []);

      native().writeXattrs(join(home, 'docs', 'report.txt'), [['user.xdg.origin.url', Buffer.from('https://example.invalid/v2')]]);
      const second = await snapshotTree(store, home, { machine: 'test' });
      assert.notEqual(second.record.root, first.record.root, 'an attribute change is a change');
      await materialise(store, second.record.root, out, {});
      assert.equal(native().readXattrs(join(out, 'docs', 'report.txt'))[0]![1].toString(), 'https://example.invalid/v2');
    } finally {
      await store.close();
    }
  });

  it('a tree without attributes encodes as before, and hostile attribute lists are refused', () => {
    const base: TreeEntry = { name: 'a', kind: 'file', mode: 0o644, mtimeMs: 1, size: 1, hash: 'a'.repeat(64), target: '' };
    assert.ok(!encodeTree([base]).includes('xattrs'));
    const enc = (x: unknown, kind = 'file') => JSON.stringify({ type: 'tree', entries: [{ ...base, kind, ...(kind === 'link' ? { hash: '', target: 't' } : {}), xattrs: x }] });
    assert.deepEqual(decodeTree(enc([['user.a', 'AQ==']])).entries[0]!.xattrs, [['user.a', 'AQ==']]);
    for (const bad of [
      [['security.selinux', 'AQ==']], [['user.b', 'AQ=='], ['user.a', 'AQ==']], [['user.a', 'AQ=='], ['user.a', 'AQ==']],
      [['user.a', '!!!']], [['user.a', 'A'.repeat(100_000)]], Array.from({ length: 65 }, (_, i) => [`user.${String(i).padStart(3, '0')}`, '']),
      [], 'nope', [['user.a']],
    ]) assert.throws(() => decodeTree(enc(bad)), ObjectFormatError, JSON.stringify(bad).slice(0, 60));
    assert.throws(() => decodeTree(enc([['user.a', 'AQ==']], 'link')), ObjectFormatError, 'links carry none');
  });
});
