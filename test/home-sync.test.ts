// The home store inside roamd, end to end: three machines as network
// namespaces (basement, the household's server; laptop; and a neighbour in
// another household), each running a real roamd with its own home tree, driven
// by the real CLI through their control sockets.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetnsLan, requireNetns } from './support/netns.js';
import { generateTree, describeTree } from './storage-tree.js';
import { roam, roamJson, stopProcess, until, ROAM_ENTRY as ENTRY } from './support/cli.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
const STRANGER = join(DIST, 'test', 'support', 'home-stranger.js');
/** Stated bound: with the follower on (debounce 300 ms here), an edit on the laptop is on the server within this long. */
const FOLLOW_BOUND_MS = 15_000;

interface PeerView { name: string | null; peerId: string; trust: string; presence: string }
interface Status { peerId: string; addrs: string[] }
interface SyncOut { peer: string; snapshot: string; files: number; outcome: { holds: boolean; complete: boolean; chunksFetched: number; conflictCount: number; conflicts: { path: string; keptAs: string | null }[] } }
interface HomeStatusOut { head: { id: string; files: number } | null; conflicts: { path: string; kind: string; keptAs: string | null }[]; pending: { push: unknown } }

describe('roam home through roamd, on a LAN of network namespaces', function () {
  this.timeout(120_000);
  const hosts = { basement: 'server', laptop: 'laptop', outsider: 'desktop' } as const;
  type Host = keyof typeof hosts;
  let lan: NetnsLan | undefined;
  let root: string;
  const daemons = new Map<Host, ChildProcess>();
  const logs = new Map<Host, string>();
  const ids = new Map<Host, string>();
  const state = (h: Host) => join(root, h);
  const home = (h: Host) => join(root, `home-${h}`);

  function startDaemon(h: Host, extra: string[] = []): void {
    const child = spawn('ip', ['netns', 'exec', lan!.ns(h), process.execPath, ENTRY, 'daemon', '--state', state(h), '--name', h,
      '--role', hosts[h], '--home', home(h), '--home-debounce', '300', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
    logs.set(h, '');
    child.stderr!.on('data', (d) => logs.set(h, (logs.get(h)! + d.toString()).slice(-20_000)));
    daemons.set(h, child);
  }

  async function stopDaemon(h: Host): Promise<void> {
    const child = daemons.get(h);
    if (child) await stopProcess(child);
  }

  const seesMember = (from: Host, to: Host) => roamJson<PeerView[]>('peers', '--state', state(from))
    .some((p) => p.peerId === ids.get(to) && p.trust === 'member' && p.presence === 'online');

  before(async function () {
    requireNetns(this);
    root = mkdtempSync(join(tmpdir(), 'roam-hm-'));
    for (const h of Object.keys(hosts) as Host[]) mkdirSync(home(h));
    lan = new NetnsLan(81, 'roam-hm-').create(Object.keys(hosts));
    startDaemon('basement');
    startDaemon('laptop', ['--home-follow', 'off']);
    startDaemon('outsider');
    for (const h of Object.keys(hosts) as Host[]) {
      const s = await until(`roamd on ${h} to answer`, 20_000, () => {
        const r = roam('status', '--state', state(h), '--json');
        return r.code === 0 && (JSON.parse(r.out) as Status);
      }).catch((e: Error) => { throw new Error(`${e.message}\n${logs.get(h)}`); });
      ids.set(h, s.peerId);
    }
    assert.equal(roam('init', '--state', state('basement'), '--name', 'home').code, 0);
    const code = roamJson<{ code: string }>('invite', '--state', state('basement')).code;
    roamJson('join', code, '--state', state('laptop'));
    assert.equal(roam('init', '--state', state('outsider'), '--name', 'neighbours').code, 0);
    await until('basement and laptop to see each other as members', 20_000, () => seesMember('basement', 'laptop') && seesMember('laptop', 'basement'));
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all([...daemons.keys()].map((h) => stopDaemon(h)));
    lan?.destroy();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const [h, l] of logs) console.error(`--- roamd ${h} ---\n${l.slice(-4000)}`);
  });

  it('`roam home sync laptop` makes the laptop\'s home identical: content, modes, mtimes, symlinks', async () => {
    await generateTree(home('basement'), { smallFiles: 150, bigFiles: 2, bigSize: 1_500_000, seed: 7 });
    const r = roam('home', 'sync', 'laptop', '--state', state('basement'), '--json');
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out) as SyncOut;
    assert.equal(res.peer, 'laptop');
    assert.ok(res.outcome.holds && res.outcome.complete, JSON.stringify(res.outcome));
    assert.ok(res.outcome.chunksFetched > 0);
    assert.equal(res.files, 150 + 3);
    // Off a terminal, progress comes as plain lines on stderr.
    // (Which phases show depends on timing: a fast sync may report its chunks only as it places files.)
    assert.match(r.err, /^ *\d+% {2}[\d.]+ MB\/s {2}ETA [-\dms]+ {2}laptop: (sending chunks|placing files) {2}files \d+\/\d+, chunks \d+\/\d+$/m);
    assert.match(r.err, /^ *100% .*laptop: done {2}files (\d+)\/\1,/m);
    assert.deepEqual(await describeTree(home('laptop')), await describeTree(home('basement')));
    // The laptop's own roamd agrees it holds the snapshot it was handed.
    const st = roamJson<HomeStatusOut>('home', 'status', '--state', state('laptop'));
    assert.equal(st.conflicts.length, 0);
    assert.equal(st.head?.files, 153);
  });

  it('snapshot, verify, gc and restore go through roamd, on its home tree only', async () => {
    const b = state('basement');
    const snap = roamJson<{ id: string; dir: string; stats: { files: number } }>('home', 'snapshot', '--state', b);
    assert.equal(snap.dir, home('basement'));
    assert.equal(snap.stats.files, 153);
    const v = roamJson<{ ok: boolean; chunks: number }>('home', 'verify', '--state', b);
    assert.ok(v.ok && v.chunks > 0);
    roamJson('home', 'gc', '--keep', '2', '--state', b);
    const into = join(root, 'restored');
    const rest = roamJson<{ id: string; filesWritten: number }>('home', 'restore', '--to', into, '--state', b);
    assert.equal(rest.filesWritten, 153);
    assert.deepEqual(await describeTree(into), await describeTree(home('basement')));
    const wrongTree = roam('home', 'status', '--dir', root, '--state', b);
    assert.equal(wrongTree.code, 1);
    assert.match(wrongTree.err, /this roamd's home is .*home-basement, not /);
  });

  it('keeps both versions of a file edited on both machines, and the receiver\'s status lists the conflict', () => {
    writeFileSync(join(home('basement'), 'd1', 'f1.txt'), 'edited in the basement\n');
    writeFileSync(join(home('laptop'), 'd1', 'f1.txt'), 'edited on the laptop\n');
    const res = roamJson<SyncOut>('home', 'sync', 'laptop', '--state', state('basement'));
    assert.equal(res.outcome.conflictCount, 1);
    const kept = res.outcome.conflicts[0]!;
    assert.equal(kept.path, 'd1/f1.txt');
    assert.ok(kept.keptAs, 'the laptop\'s version is kept under another name');
    assert.equal(readFileSync(join(home('laptop'), 'd1', 'f1.txt'), 'utf8'), 'edited in the basement\n');
    assert.equal(readFileSync(join(home('laptop'), kept.keptAs!), 'utf8'), 'edited on the laptop\n');
    const st = roamJson<HomeStatusOut>('home', 'status', '--state', state('laptop'));
    assert.deepEqual(st.conflicts.map((c) => [c.path, c.keptAs]), [['d1/f1.txt', kept.keptAs]]);
    const human = roam('home', 'status', '--state', state('laptop'));
    assert.match(human.out, /1 conflict\(s\):\n {2}d1\/f1\.txt: both-modified \(your version kept as d1\/f1\.txt\.conflict-laptop-/);
  });

  it(`with the follower on, an edit on the laptop reaches the household's server within ${FOLLOW_BOUND_MS / 1000} s`, async () => {
    const on = roamJson<{ follow: boolean; server: string | null }>('home', 'follow', 'on', '--state', state('laptop'));
    assert.deepEqual(on, { follow: true, server: 'basement' });
    const body = `written on the laptop at ${Date.now()}\n`;
    const t0 = Date.now();
    writeFileSync(join(home('laptop'), 'from-laptop.txt'), body);
    await until('the edit to reach basement', FOLLOW_BOUND_MS, () => {
      const p = join(home('basement'), 'from-laptop.txt');
      return existsSync(p) && readFileSync(p, 'utf8') === body;
    });
    console.log(`      (follower: the edit reached the server in ${Date.now() - t0} ms)`);
    // Nothing left pending once the server took it.
    await until('the laptop to report nothing pending', 10_000, () =>
      roamJson<HomeStatusOut>('home', 'status', '--state', state('laptop')).pending.push === null);
    assert.equal(roamJson<{ follow: boolean }>('home', 'follow', 'off', '--state', state('laptop')).follow, false);
  });

  it('refuses a machine outside the household: it can neither pull the home nor make roamd pull', async () => {
    const st = roamJson<Status>('status', '--state', state('basement'));
    const addr = st.addrs.find((a) => a.includes(lan!.hosts.get('basement')!.addr));
    assert.ok(addr, `basement listens on its LAN address: ${st.addrs.join(', ')}`);
    const strangerHome = join(root, 'stranger-home');
    mkdirSync(strangerHome);
    const r = spawnSync('ip', ['netns', 'exec', lan!.ns('outsider'), process.execPath, STRANGER, join(root, 'stranger-store'), strangerHome,
      addr.includes('/p2p/') ? addr : `${addr}/p2p/${ids.get('basement')}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { store: string; home: string; files: string[] };
    assert.notEqual(out.store, 'ok');
    assert.match(out.store, /closed the stream|not a member/);
    assert.notEqual(out.home, 'ok');
    assert.deepEqual(out.files, [], 'nothing of the home reached the stranger');
    // Through the CLI, neither side will name the other as a target.
    const fromOutsider = roam('home', 'sync', 'basement', '--state', state('outsider'));
    assert.equal(fromOutsider.code, 1);
    assert.match(fromOutsider.err, /no peer named 'basement'|not a household member/);
    const toOutsider = roam('home', 'sync', ids.get('outsider')!, '--state', state('basement'));
    assert.equal(toOutsider.code, 1);
    assert.match(toOutsider.err, /is not a household member \(untrusted\); household members: laptop/);
    assert.deepEqual(readdirSync(home('outsider')), []);
  });

  it('names the household\'s members for an unknown peer, and says when a member is offline', async () => {
    const unknown = roam('home', 'sync', 'kitchen', '--state', state('basement'));
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no peer named 'kitchen'; household members: laptop/);
    const self = roam('home', 'sync', 'basement', '--state', state('basement'));
    assert.equal(self.code, 1);
    assert.match(self.err, /'basement' is this machine/);
    const human = roam('home', 'sync', 'laptop', '--state', state('basement'));
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /^laptop holds snapshot [0-9a-f]{64} \(\d+ files, [\d.]+ MiB\) and has placed it: \d+ chunks/);
    await stopDaemon('laptop');
    await until('basement to see the laptop go', 15_000, () =>
      roamJson<PeerView[]>('peers', '--state', state('basement')).find((p) => p.name === 'laptop')?.presence !== 'online');
    const offline = roam('home', 'sync', 'laptop', '--state', state('basement'));
    assert.equal(offline.code, 1);
    assert.match(offline.err, /peer 'laptop' is (offline|stale) .*it must be online to receive the home/);
  });
});

describe('roam home without roamd', () => {
  let root: string;
  before(() => { root = mkdtempSync(join(tmpdir(), 'roam-hm-local-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('opens the store itself for snapshot and status, and says sync needs roamd', () => {
    const tree = join(root, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'a.txt'), 'hello\n');
    const state = join(root, 'state');
    const snap = roamJson<{ id: string; stats: { files: number } }>('home', 'snapshot', '--state', state, '--dir', tree);
    assert.equal(snap.stats.files, 1);
    assert.ok(existsSync(join(state, 'store')), 'without roamd the store is STATE/store');
    const st = roamJson<{ head: { id: string } | null }>('home', 'status', '--state', state, '--dir', tree);
    assert.equal(st.head?.id, snap.id);
    const sync = roam('home', 'sync', 'laptop', '--state', state);
    assert.equal(sync.code, 1);
    assert.match(sync.err, /sync goes through roamd, which must run .*roamd is not running/);
    const bad = roam('home', 'sync', '--state', state);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /sync wants exactly one peer/);
  });
});
