// VM processes outlive roamd: the control socket between a controller and a VM
// process (frames, one controller at a time, backlog while detached), and roamd
// end to end — SIGTERM or SIGKILL roamd, start it again on the same state
// directory, and the same VM process is supervised again with its heartbeat
// continuing. Every roamd and VM process started here is killed by pid at the end.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { NetnsLan, requireNetns } from './support/netns.js';
import { requireKvm } from './support/kvm.js';
import { encodeFrame, FrameError, FrameReader, MAX_FRAME_BYTES } from '../node/vm-host/framing.js';
import { VmProcess } from '../node/vm-host/index.js';
import { probeGuestPath } from '../guest/index.js';
import { until, ROAM_ENTRY as ENTRY } from './support/cli.js';

const MiB = 2 ** 20;

interface Beat { seq: number; ok: boolean }
interface VmView {
  name: string; state: string; pid: number; message: string | null; lastHeartbeat: Beat | null; display: boolean;
  heartbeats: { first: number | null; count: number; gaps: number; repeats: number };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
  // A zombie waiting for its parent to reap it has ended too.
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

/** Bytes of a VM process's guest memfd: its RAM, plus the framebuffer's 3 MiB when it has a display. */
function guestMemfdBytes(pid: number): number {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try { target = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    if (target.startsWith('/memfd:roam-guest-ram')) return statSync(`/proc/${pid}/fd/${fd}`).size;
  }
  throw new Error(`VM process ${pid} holds no guest memfd`);
}

function killPid(pid: number | undefined): void {
  if (pid && pid > 0) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('VM control socket frames', () => {
  it('reassembles frames split anywhere and keeps bytes as bytes', () => {
    const msgs = [{ kind: 'event', event: 'serial', data: new Uint8Array([1, 2, 3]) }, { kind: 'reply', id: 7, ok: true, value: null }];
    const wire = Buffer.concat(msgs.map((m) => encodeFrame(m)));
    for (const cut of [1, 3, 4, 5, wire.length - 1]) {
      const r = new FrameReader();
      const got = [...r.push(wire.subarray(0, cut)), ...r.push(wire.subarray(cut))];
      assert.equal(got.length, 2, `cut at ${cut}`);
      assert.deepEqual([...(got[0] as { data: Uint8Array }).data], [1, 2, 3]);
      assert.equal((got[1] as { id: number }).id, 7);
    }
  });

  it('refuses an oversized, an empty and an undecodable frame', () => {
    const head = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n, 0); return b; };
    assert.throws(() => new FrameReader().push(head(MAX_FRAME_BYTES + 1)), FrameError);
    assert.throws(() => new FrameReader().push(head(0)), FrameError);
    assert.throws(() => new FrameReader().push(Buffer.concat([head(3), Buffer.from([0xff, 0x0f, 0x99])])), FrameError);
    // A frame just under the bound is fine, and one over it is refused on the sending side too.
    assert.equal(serialize({ a: 1 }).length < MAX_FRAME_BYTES, true);
    assert.throws(() => encodeFrame({ big: Buffer.alloc(MAX_FRAME_BYTES) }), FrameError);
  });
});

describe('VM process control socket (node/vm-host)', function () {
  this.timeout(60_000);
  const procs: VmProcess[] = [];
  let dir: string;

  before(function () {
    requireKvm(this);
    dir = mkdtempSync(join(tmpdir(), 'roam-ps-'));
  });
  after(() => {
    for (const p of procs) killPid(p.pid);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function bootDetached(name: string): Promise<VmProcess> {
    const vm = await VmProcess.spawn({ socketDir: dir, name, detached: true });
    procs.push(vm);
    await vm.request({ op: 'setMeta', meta: { name, memBytes: 32 * MiB } });
    await vm.request({ op: 'create', memBytes: 32 * MiB, vcpus: 1 });
    await vm.request({ op: 'loadMultiboot', kernelPath: probeGuestPath(), cmdline: 'fill=4M ws=1M rate=1M beat=20ms' });
    await vm.request({ op: 'start' });
    return vm;
  }

  it('a detached VM process keeps running without a controller, refuses a second one, and hands over its metadata and output', async () => {
    const vm = await bootDetached('solo');
    const sock = join(dir, 'solo.sock');
    let seen = '';
    vm.on('serial', (d: Buffer) => { seen += d.toString(); });
    await until('first heartbeat', 20_000, () => /HB seq=\d+/.test(seen));
    await assert.rejects(VmProcess.attach(sock), /already has a controller/);
    await vm.detach();
    assert.equal(alive(vm.pid), true, 'the VM process runs on without its controller');
    await sleep(300); // the guest beats on while nobody listens
    const again = await VmProcess.attach(sock);
    procs.push(again);
    assert.equal(again.pid, vm.pid);
    assert.deepEqual(again.meta, { name: 'solo', memBytes: 32 * MiB });
    assert.deepEqual(again.hostStatus, { present: true, running: true, failure: null });
    const backlog = again.takeBacklog().toString();
    const lastBefore = Math.max(...[...seen.matchAll(/HB seq=(\d+)/g)].map((m) => Number(m[1])));
    const inBacklog = [...backlog.matchAll(/HB seq=(\d+)/g)].map((m) => Number(m[1]));
    assert.ok(inBacklog.length > 0, `output made while detached is handed over: ${JSON.stringify(backlog.slice(0, 200))}`);
    // detach() handed over exactly: the backlog continues where the first controller's output stopped.
    assert.equal(inBacklog[0], lastBefore + 1);
    await again.close();
    await until('the VM process to end', 10_000, () => !alive(vm.pid));
    assert.equal(existsSync(sock), false, 'the VM process removes its socket');
  });

  it('a VM process that was not spawned detached ends with its controller', async () => {
    const vm = await VmProcess.spawn();
    procs.push(vm);
    await vm.request({ op: 'create', memBytes: 32 * MiB, vcpus: 1 });
    const pid = vm.pid;
    await vm.detach();
    await until('the VM process to end', 10_000, () => !alive(pid));
  });

  it('a detached VM process whose socket file was deleted closes itself (nobody can reach it again)', async () => {
    const vm = await bootDetached('orphan');
    await vm.detach();
    rmSync(join(dir, 'orphan.sock'));
    await until('the unreachable VM process to end', 15_000, () => !alive(vm.pid));
  });
});

describe('roamd restarts while its VMs keep running', function () {
  this.timeout(180_000);
  let lan: NetnsLan | undefined;
  let root: string;
  const daemons: ChildProcess[] = [];
  const vmPids = new Set<number>();
  let log = '';

  before(function () {
    requireNetns(this);
    requireKvm(this);
    root = mkdtempSync(join(tmpdir(), 'roam-ps-'));
    lan = new NetnsLan(83, 'roam-ps-').create(['solo']);
  });

  after(async function () {
    for (const pid of vmPids) killPid(pid);
    for (const d of daemons) killPid(d.pid);
    lan?.destroy();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.error(`--- roamd logs ---\n${log.slice(-4000)}`);
  });

  const roam = (state: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, [ENTRY, ...args, '--state', state], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const roamJson = <T>(state: string, ...args: string[]): T => {
    const r = roam(state, ...args, '--json');
    assert.equal(r.code, 0, `roam ${args.join(' ')} → exit ${r.code}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };
  const vmIn = (state: string, name: string) => roamJson<VmView[]>(state, 'ps').find((v) => v.name === name);

  async function startDaemon(state: string): Promise<ChildProcess> {
    const child = spawn('ip', ['netns', 'exec', lan!.ns('solo'), process.execPath, ENTRY, 'daemon', '--state', state, '--name', 'solo'],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    daemons.push(child);
    child.stderr!.on('data', (d) => { log = (log + d.toString()).slice(-20_000); });
    await until('roamd to answer', 30_000, () => {
      if (child.exitCode !== null) throw new Error(`roamd exited with ${child.exitCode}`);
      return roam(state, 'status').code === 0;
    });
    return child;
  }

  async function stopDaemon(child: ChildProcess, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const gone = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, sig) => r({ code, signal: sig })));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const how = await gone;
    clearTimeout(t);
    return how;
  }

  const heartbeatSeqs = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^HB seq=(\d+) /gm)].map((m) => Number(m[1]));

  it('SIGTERM: roamd exits, the VM runs on, and the next roamd supervises the same VM process with an unbroken console', async () => {
    const state = join(root, 'term');
    const d1 = await startDaemon(state);
    const run = roamJson<VmView>(state, 'run', 'probe', '--name', 'desk', '--mem', '32M', '--ws', '2M', '--beat', '50ms');
    vmPids.add(run.pid);
    assert.equal(run.display, true, 'a VM gets a display by default');
    assert.equal(guestMemfdBytes(run.pid), 32 * MiB + 3 * MiB, 'its memfd holds RAM and the framebuffer');
    const before = await until('heartbeats under the first roamd', 30_000, () => { const v = vmIn(state, 'desk'); return v && v.heartbeats.count >= 5 && v; });
    const sock = join(state, 'vms', 'desk.sock');
    assert.ok(existsSync(sock), 'the VM process listens on STATE/vms/NAME.sock');
    assert.equal(statSync(sock).mode & 0o777, 0o600, 'only its owner may drive the VM');

    const how = await stopDaemon(d1, 'SIGTERM');
    assert.equal(how.code, 0, 'roamd exits cleanly on SIGTERM');
    assert.equal(alive(run.pid), true, 'the VM process outlives roamd');
    assert.ok(existsSync(sock));
    await sleep(500); // the guest beats on while no roamd listens

    await startDaemon(state);
    const found = vmIn(state, 'desk');
    assert.ok(found, 'the restarted roamd lists the VM');
    assert.equal(found.state, 'running');
    assert.equal(found.pid, run.pid, 'the very same VM process');
    assert.equal(found.display, true, 'the restarted roamd knows the VM has a display');
    const after = await until('heartbeats to advance under the new roamd', 30_000, () => {
      const v = vmIn(state, 'desk');
      return v?.lastHeartbeat && v.lastHeartbeat.seq >= before.lastHeartbeat!.seq + 20 && v.heartbeats.count >= 5 ? v : undefined;
    });
    assert.equal(after.lastHeartbeat!.ok, true);
    assert.equal(after.heartbeats.gaps, 0);
    assert.equal(after.heartbeats.repeats, 0);
    // The VM's log holds the console of both roamds back to back: with a clean hand-over, not one heartbeat is missing.
    const seqs = heartbeatSeqs(join(state, 'vms', 'desk.log'));
    assert.ok(seqs.includes(before.lastHeartbeat!.seq) && seqs.includes(after.lastHeartbeat!.seq));
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, `heartbeat ${seqs[i - 1]} is followed by ${seqs[i]} in the log`);

    // `roam console` streams from the re-attached VM.
    const con = spawn(process.execPath, [ENTRY, 'console', 'desk', '--state', state], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    con.stdout!.on('data', (d) => { out += d; });
    await until('live console output', 15_000, () => [...out.matchAll(/HB seq=(\d+)/g)].some((m) => Number(m[1]) > after.lastHeartbeat!.seq));
    const exited = new Promise<number | null>((r) => con.once('exit', (c) => r(c)));
    con.kill('SIGINT');
    assert.equal(await exited, 0);

    // `roam stop` still ends the VM process, and its socket goes with it.
    const stop = roam(state, 'stop', 'desk');
    assert.equal(stop.code, 0, stop.err);
    await until('the VM process to end', 10_000, () => !alive(run.pid));
    assert.equal(existsSync(sock), false);
    assert.equal(roamJson<VmView[]>(state, 'ps').length, 0);
  });

  it('SIGKILL: the next roamd re-adopts the VM; a stale socket with no process behind it is removed and does not block startup', async () => {
    const state = join(root, 'kill');
    const d1 = await startDaemon(state);
    const run = roamJson<VmView>(state, 'run', 'probe', '--name', 'lab', '--mem', '32M', '--ws', '2M', '--beat', '50ms', '--no-display');
    vmPids.add(run.pid);
    assert.equal(run.display, false, '--no-display: no screen');
    assert.equal(guestMemfdBytes(run.pid), 32 * MiB, 'the VM process has RAM and no framebuffer');
    const before = await until('heartbeats under the first roamd', 30_000, () => { const v = vmIn(state, 'lab'); return v && v.heartbeats.count >= 5 && v; });
    const how = await stopDaemon(d1, 'SIGKILL');
    assert.equal(how.signal, 'SIGKILL');
    assert.equal(alive(run.pid), true, 'the VM process outlives a killed roamd');

    // A socket file whose process is long gone (bound, never served).
    const ghost = join(state, 'vms', 'ghost.sock');
    const py = spawnSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', ghost]);
    assert.equal(py.status, 0, String(py.stderr));
    assert.ok(existsSync(ghost));

    await startDaemon(state);
    assert.equal(existsSync(ghost), false, 'the stale socket was removed');
    const list = roamJson<VmView[]>(state, 'ps');
    assert.deepEqual(list.map((v) => v.name), ['lab']);
    assert.equal(list[0]!.state, 'running');
    assert.equal(list[0]!.pid, run.pid);
    assert.equal(list[0]!.display, false, 'the re-adopted VM is still known to have no display');
    const after = await until('heartbeats to advance under the new roamd', 30_000, () => {
      const v = vmIn(state, 'lab');
      return v?.lastHeartbeat && v.lastHeartbeat.seq > before.lastHeartbeat!.seq && v.heartbeats.count >= 5 ? v : undefined;
    });
    assert.equal(after.lastHeartbeat!.ok, true);
    assert.equal(after.heartbeats.gaps, 0, 'what the new roamd sees is gap-free');
    assert.equal(after.heartbeats.repeats, 0);

    const stop = roam(state, 'stop', 'lab');
    assert.equal(stop.code, 0, stop.err);
    await until('the VM process to end', 10_000, () => !alive(run.pid));
    assert.deepEqual(readdirSync(join(state, 'vms')).filter((f) => f.endsWith('.sock')), []);
  });
});
