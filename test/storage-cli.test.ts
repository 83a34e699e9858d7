import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { home } from '../node/cli/commands/home.js';
import { UsageError } from '../node/cli/command.js';
import { tempDir } from './storage-helpers.js';

/** Runs `roam home …` in-process, capturing stdout lines and stderr. */
async function roamHome(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const log = console.log; const error = console.error;
  let out = ''; let err = '';
  console.log = (...a: unknown[]) => { out += a.join(' ') + '\n'; };
  console.error = (...a: unknown[]) => { err += a.join(' ') + '\n'; };
  try { return { code: await home.run(args), out, err }; } finally { console.log = log; console.error = error; }
}

describe('storage: roam home CLI', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  before(async () => { t = await tempDir('cli'); });
  after(async () => { await t.cleanup(); });

  it('snapshot, status, verify, gc and restore work on a local store with --json', async () => {
    const dir = join(t.path, 'home'); const store = join(t.path, 'store'); const to = join(t.path, 'restored');
    await mkdir(join(dir, 'docs'), { recursive: true });
    await writeFile(join(dir, 'docs', 'a.txt'), 'alpha');
    const common = ['--store', store, '--dir', dir, '--json'];
    const s1 = await roamHome(['snapshot', ...common]);
    assert.equal(s1.code, 0, s1.err);
    const snap = JSON.parse(s1.out) as { id: string; stats: { files: number } };
    assert.equal(snap.stats.files, 1);
    await writeFile(join(dir, 'docs', 'a.txt'), 'beta');
    const s2 = JSON.parse((await roamHome(['snapshot', ...common])).out) as { id: string };
    const st = JSON.parse((await roamHome(['status', ...common])).out) as { head: { id: string }; snapshots: number };
    assert.equal(st.head.id, s2.id);
    assert.equal(st.snapshots, 2);
    const v = await roamHome(['verify', ...common]);
    assert.equal(v.code, 0);
    assert.equal((JSON.parse(v.out) as { ok: boolean }).ok, true);
    await writeFile(join(dir, 'docs', 'a.txt'), 'gamma');
    await roamHome(['snapshot', ...common]);
    // Unnamed snapshots: the first two (head names the third). Keep the newest one of them.
    const g = JSON.parse((await roamHome(['gc', '--keep', '1', ...common])).out) as { forgotten: number; chunksRemoved: number };
    assert.equal(g.forgotten, 1);
    assert.equal(g.chunksRemoved, 1, "only 'alpha' became unreachable");
    const r = await roamHome(['restore', '--to', to, ...common]);
    assert.equal(r.code, 0, r.err);
    assert.equal(await readFile(join(to, 'docs', 'a.txt'), 'utf8'), 'gamma');
    assert.equal((await roamHome(['restore', s2.id, '--to', to, ...common])).code, 0);
    assert.equal(await readFile(join(to, 'docs', 'a.txt'), 'utf8'), 'beta');
    const gone = await roamHome(['restore', snap.id, '--to', to, ...common]).catch((e: Error) => e);
    assert.match(String(gone), /no snapshot/);
  });

  it('gives clear errors for bad input', async () => {
    const common = ['--store', join(t.path, 'store2'), '--dir', join(t.path, 'missing')];
    await assert.rejects(home.run(['frobnicate', ...common]), (e: Error) => e instanceof UsageError && /unknown subcommand/.test(e.message));
    await assert.rejects(home.run(['snapshot', ...common]), /not a directory/);
    await assert.rejects(home.run(['restore', 'xyz', ...common]), /no snapshot yet|not a snapshot id/);
    await assert.rejects(home.run(['gc', '--keep', 'lots', ...common]), /whole number/);
    await assert.rejects(home.run(['status', '--store']), /needs a value/);
    const s = await roamHome(['sync', 'basement']);
    assert.equal(s.code, 1);
    assert.match(s.err, /roamd/);
  });
});
