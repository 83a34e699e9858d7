// Sync between two network-namespace hosts joined by a veth pair (needs root and
// `ip netns`). Skipped where unavailable, except under CI=true where it must run.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBuffer, seededRandom, tempDir } from './storage-helpers.js';
import { describeTree, generateTree } from './storage-tree.js';

const CHILD = fileURLToPath(new URL('./storage-child.js', import.meta.url));
const NS_A = 'roam-st-a'; const NS_B = 'roam-st-b';
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

function netnsAvailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  try { execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' }); return null; } catch { return '`ip netns` unavailable'; }
}

function teardown(): void {
  for (const ns of [NS_A, NS_B]) { try { ip('netns', 'del', ns); } catch { /* not there */ } }
}

function inNs(ns: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

function waitFor(child: ChildProcess, re: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => { out += d.toString(); const m = re.exec(out); if (m) resolve(m); };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before ${re}: ${out}`)));
  });
}

describe('storage: sync between two network namespaces', function () {
  let t: { path: string; cleanup: () => Promise<void> } | undefined;
  let server: ChildProcess | undefined;

  before(function () {
    const why = netnsAvailable();
    if (why) {
      if (process.env.CI === 'true') throw new Error(`netns test cannot run under CI: ${why}`);
      this.skip();
    }
    teardown();
    ip('netns', 'add', NS_A); ip('netns', 'add', NS_B);
    ip('link', 'add', 'roam-st-va', 'type', 'veth', 'peer', 'name', 'roam-st-vb');
    ip('link', 'set', 'roam-st-va', 'netns', NS_A); ip('link', 'set', 'roam-st-vb', 'netns', NS_B);
    ip('-n', NS_A, 'addr', 'add', '10.231.7.1/24', 'dev', 'roam-st-va');
    ip('-n', NS_B, 'addr', 'add', '10.231.7.2/24', 'dev', 'roam-st-vb');
    for (const [ns, dev] of [[NS_A, 'roam-st-va'], [NS_B, 'roam-st-vb']] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up'); ip('-n', ns, 'link', 'set', dev, 'up');
    }
  });

  after(async () => {
    if (server && server.exitCode === null) { server.kill('SIGKILL'); await new Promise((r) => server!.once('exit', r)); }
    teardown();
    await t?.cleanup();
  });

  it('a host in one namespace pulls another host\'s home over the veth link', async () => {
    t = await tempDir('netns');
    const dirA = join(t.path, 'A'); const dirB = join(t.path, 'B');
    await generateTree(dirA, { smallFiles: 200, bigFiles: 1, bigSize: 2 * 1024 * 1024, seed: 31 });
    await writeFile(join(dirA, 'extra.bin'), randomBuffer(seededRandom(8), 300_000));
    await mkdir(dirB);
    server = inNs(NS_A, ['serve', join(t.path, 'storeA'), dirA, '/ip4/10.231.7.1/tcp/0']);
    const [, addr] = await waitFor(server, /LISTENING (\S+)\n/);
    assert.match(addr!, /^\/ip4\/10\.231\.7\.1\/tcp\/\d+\/p2p\//);
    const client = inNs(NS_B, ['sync', join(t.path, 'storeB'), dirB, addr!]);
    await waitFor(client, /DONE \d+\n/);
    assert.deepEqual(await describeTree(dirB), await describeTree(dirA));
  });
});
