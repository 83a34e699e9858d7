import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { Store } from '../storage/store.js';
import { serveStore } from '../storage/sync.js';
import { randomBuffer, seededRandom, tempDir } from './storage-helpers.js';
import { describeTree } from './storage-tree.js';

const CHILD = fileURLToPath(new URL('./storage-child.js', import.meta.url));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Runs the child; kills it `killAfterMs` after it reports READY (never, if null). Resolves with its exit. */
function runChild(args: string[], killAfterMs: number | null): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, 'sync', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (killAfterMs !== null && out.includes('READY\n')) {
        setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        killAfterMs = null;
      }
    });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

describe('storage: a receiver killed mid-sync loses nothing', function () {
  let t: { path: string; cleanup: () => Promise<void> };
  let server: Libp2p; let serverStore: Store;
  before(async () => { t = await tempDir('crash'); });
  after(async () => { await server?.stop(); await serverStore?.close(); await t.cleanup(); });

  it('SIGKILLed 10 times at random points: each time the store verifies and no file is half-written; the 11th sync completes', async () => {
    const dirA = join(t.path, 'A'); const dirB = join(t.path, 'B'); const storeB = join(t.path, 'storeB');
    await mkdir(dirA); await mkdir(dirB);
    const rand = seededRandom(2024);
    const versions = new Map<string, Set<string>>(); // every content each path has ever had on the sender
    const write = async (rel: string, body: Buffer) => {
      await mkdir(join(dirA, rel, '..'), { recursive: true });
      await writeFile(join(dirA, rel), body);
      let s = versions.get(rel);
      if (!s) versions.set(rel, s = new Set());
      s.add(sha(body));
    };
    const mutate = async (round: number) => {
      for (let i = 0; i < 120; i++) if (round === 0 || rand() < 0.5) await write(`dir${i % 6}/file${i}.dat`, randomBuffer(rand, 8_000 + Math.floor(rand() * 40_000)));
      await write('large.bin', randomBuffer(rand, 3 * 1024 * 1024));
    };
    serverStore = await Store.open(join(t.path, 'storeA'));
    server = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    });
    await serveStore(server, serverStore, { isMember: () => true, dir: dirA, machine: 'server', onError: () => undefined });
    const args = [storeB, dirB, server.getMultiaddrs()[0]!.toString()];

    let killedMidway = 0;
    const killedIn: string[] = []; // the sync phase each kill landed in (for the failure message)
    for (let round = 0; round < 10; round++) {
      await mutate(round);
      const delay = Math.floor(rand() * 2500);
      const r = await runChild(args, delay);
      if (r.signal === 'SIGKILL') { killedMidway++; killedIn.push(/PHASE (\w+)\n(?![\s\S]*PHASE)/.exec(r.out)?.[1] ?? 'start'); }
      else assert.equal(r.code, 0, `child failed: ${r.out}`);
      const s = await Store.open(storeB);
      try {
        const v = await s.verify();
        assert.ok(v.ok, `round ${round} (killed after ${delay} ms): ${JSON.stringify(v.damage)}`);
      } finally { await s.close(); }
      for (const [rel, node] of await describeTree(dirB)) {
        if (node.kind !== 'file') continue;
        if (rel.split('/').pop()!.startsWith('.roamtmp-')) continue; // a temp name, swept next run
        const known = versions.get(rel);
        assert.ok(known, `round ${round}: unexpected file ${rel}`);
        assert.ok(known.has(sha(await readFile(join(dirB, rel)))), `round ${round}: ${rel} is neither an old nor a new version`);
      }
    }
    assert.ok(killedMidway >= 5, `only ${killedMidway} of 10 runs were killed before finishing (${killedIn.join(', ')})`);
    if (process.env.ROAM_TEST_VERBOSE) console.log(`      kills landed in: ${killedIn.join(', ')}`);
    const last = await runChild(args, null);
    assert.equal(last.code, 0, last.out);
    assert.deepEqual(await describeTree(dirB), await describeTree(dirA));
    const s = await Store.open(storeB);
    try { assert.ok((await s.verify()).ok); } finally { await s.close(); }
  });
});
