import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HomeFollower, Store, flattenTree, type SnapshotResult } from '../storage/index.js';
import { tempDir } from './storage-helpers.js';

describe('storage: HomeFollower', () => {
  it('snapshots after changes settle and pushes only new roots', async () => {
    const t = await tempDir('follow');
    const store = await Store.open(join(t.path, 'store'));
    const dir = join(t.path, 'home');
    await mkdir(dir);
    await writeFile(join(dir, '.roamignore'), '*.tmp\n');
    const pushed: SnapshotResult[] = [];
    let onPush: (() => void) | null = null;
    const f = new HomeFollower(store, dir, {
      machine: 'test', debounceMs: 50,
      push: async (s) => { pushed.push(s); onPush?.(); },
    });
    try {
      await f.start();
      assert.equal(pushed.length, 1, 'the initial state is pushed once');
      await f.flush();
      assert.equal(pushed.length, 1, 'an unchanged tree is not pushed again');
      const next = new Promise<void>((r) => { onPush = r; });
      await writeFile(join(dir, 'notes.txt'), 'v1');
      await writeFile(join(dir, 'scratch.tmp'), 'ignored');
      await next;
      const last = pushed.at(-1)!;
      const files = await flattenTree((id) => store.needObject(id), last.record.root);
      assert.ok(files.files.has('notes.txt'));
      assert.ok(!files.files.has('scratch.tmp'));
    } finally {
      await f.stop();
      await store.close();
      await t.cleanup();
    }
  });
});
