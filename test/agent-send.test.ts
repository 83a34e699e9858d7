// `roam send` end to end: real roamd in network namespaces, a real probe guest,
// moved by the real CLI — there and back — with the guest's own heartbeat as
// the witness that no memory, time or output was lost or replayed.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Household, ROAM_ENTRY, until } from '../node/demo/household.js';
import { requireNetns } from './support/netns.js';
import { requireKvm } from './support/kvm.js';
import { continuesAcross } from './support/heartbeat.js';

interface Beat { seq: number; ok: boolean }
interface VmView { name: string; state: string; guest: string; lastHeartbeat: Beat | null; heartbeats: { first: number | null; count: number; gaps: number; repeats: number } }
interface SendResult { vm: string; to: string; lastHeartbeatHere: Beat | null; wireBytes: number; rounds: number; downtimeMs: number; returnTrip: boolean; returnTripPagesReused: number }

describe('roam send between roamd in network namespaces', function () {
  this.timeout(180_000);
  let house: Household | undefined;
  let root: string;

  before(async function () {
    requireNetns(this);
    requireKvm(this);
    root = mkdtempSync(join(tmpdir(), 'roam-sd-'));
    house = new Household(root, [
      { name: 'basement', role: 'server' }, { name: 'laptop', role: 'laptop' }, { name: 'outsider', role: 'desktop' },
    ], { net: 79, prefix: 'roam-sd-' });
    await house.start();
    // basement and laptop form the household; outsider stays outside it.
    house.roamJson('basement', 'init', '--name', 'test-home');
    const { code } = house.roamJson<{ code: string }>('basement', 'invite');
    house.roamJson('laptop', 'join', code);
    await until('basement and laptop to see each other', 30_000, () => {
      const p = house!.roamJson<{ name: string | null; trusted: boolean; presence: string }[]>('basement', 'peers');
      return p.some((x) => x.name === 'laptop' && x.trusted && x.presence === 'online');
    });
  });

  after(async function () {
    this.timeout(30_000);
    await house?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && house) for (const m of house.machines) console.error(`--- roamd ${m.name} ---\n${house.log(m.name).slice(-3000)}`);
  });

  const ps = (m: string) => house!.roamJson<VmView[]>(m, 'ps');
  const consoleLog = (m: string, vm: string) => readFileSync(join(house!.stateDir(m), 'vms', `${vm}.log`), 'latin1');
  /** The guest's heartbeat went on from `from` to `to` with nothing lost or replayed (see support/heartbeat.ts). */
  const continued = (vm: string, from: string, to: string, last: number, first: number) => {
    const src = consoleLog(from, vm); const dst = consoleLog(to, vm);
    const near = (log: string) => JSON.stringify(log.split('\n').filter((l) => /seq=(\d+)/.test(l) && Math.abs(Number(/seq=(\d+)/.exec(l)![1]) - last) <= 2 || !/^HB /.test(l)).slice(-6));
    assert.ok(continuesAcross(src, dst, last, first),
      `the heartbeat continues exactly: last on ${from} ${last}, first on ${to} ${first}; ${from} tail ${JSON.stringify(src.slice(-160))}; ${to} lines ${near(dst)}`);
  };
  const beatsOn = (m: string, name: string, atLeast: number) => until(`${name} to beat ${atLeast} times on ${m}`, 30_000, () => {
    const vm = ps(m).find((v) => v.name === name);
    return vm && vm.heartbeats.count >= atLeast ? vm : undefined;
  });

  it('moves a running probe guest to laptop and back; the heartbeat continues exactly, ok, and the return is cheaper', async () => {
    const run = house!.roam('basement', 'run', 'probe', '--name', 'desk', '--mem', '128M', '--ws', '16M', '--rate', '16M', '--beat', '50ms');
    assert.equal(run.code, 0, run.err);
    await beatsOn('basement', 'desk', 5);

    const out = house!.roamJson<SendResult>('basement', 'send', 'desk', 'laptop');
    assert.equal(out.to, 'laptop');
    assert.ok(out.lastHeartbeatHere, 'basement saw heartbeats before the send');
    assert.equal(ps('basement').find((v) => v.name === 'desk'), undefined, 'basement no longer runs it');
    const there = await beatsOn('laptop', 'desk', 5);
    assert.equal(there.state, 'running');
    assert.match(there.guest, /arrived from basement/);
    continued('desk', 'basement', 'laptop', out.lastHeartbeatHere!.seq, there.heartbeats.first!);
    assert.equal(there.heartbeats.gaps, 0);
    assert.equal(there.heartbeats.repeats, 0);
    assert.equal(there.lastHeartbeat!.ok, true);

    const back = house!.roamJson<SendResult>('laptop', 'send', 'desk', 'basement');
    assert.equal(back.returnTrip, true, 'basement kept the image it had');
    assert.ok(back.returnTripPagesReused > 0);
    assert.ok(back.wireBytes < out.wireBytes, `return ${back.wireBytes} B should be cheaper than the way out ${out.wireBytes} B`);
    const home = await beatsOn('basement', 'desk', 5);
    continued('desk', 'laptop', 'basement', back.lastHeartbeatHere!.seq, home.heartbeats.first!);
    assert.equal(home.heartbeats.gaps, 0);
    assert.equal(home.lastHeartbeat!.ok, true);
    assert.equal(ps('laptop').find((v) => v.name === 'desk'), undefined);
  });

  it('Ctrl-C on `roam send` cancels it: the VM keeps running where it was, nothing runs on the target', async () => {
    assert.equal(house!.roam('basement', 'run', 'probe', '--name', 'big', '--mem', '512M', '--fill', '384M', '--ws', '16M', '--rate', '16M').code, 0);
    await beatsOn('basement', 'big', 3);
    const child = spawn(process.execPath, [ROAM_ENTRY, 'send', 'big', 'laptop', '--json', '--state', house!.stateDir('basement')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await until('the send to start copying pages', 60_000, () => /"phase":"precopy"/.test(err));
    child.kill('SIGINT');
    assert.notEqual(await exited, 0, 'an interrupted send does not report success');
    // roamd says how the send ended: cancelled, with the VM still here (not "now runs on laptop").
    const ended = await until('basement to end the send', 90_000, () =>
      /sending VM 'big' to laptop failed[^\n]*|VM 'big' now runs on laptop/.exec(house!.log('basement'))?.[0]);
    assert.match(ended, /failed \(running-here\).*cancel/);
    const before = (await beatsOn('basement', 'big', 1)).heartbeats.count;
    const after = await beatsOn('basement', 'big', before + 5);
    assert.equal(after.state, 'running');
    assert.equal(after.heartbeats.gaps, 0);
    assert.equal(after.lastHeartbeat!.ok, true);
    await until('laptop to have discarded its half-received copy', 30_000, () => !ps('laptop').some((v) => v.name === 'big'));
    assert.equal(house!.roam('basement', 'stop', 'big').code, 0);
  });

  it('a machine outside the household can neither receive nor send a VM', async () => {
    assert.equal(house!.roam('basement', 'run', 'probe', '--name', 'stays', '--mem', '32M').code, 0);
    const toOutsider = house!.roam('basement', 'send', 'stays', 'outsider');
    assert.equal(toOutsider.code, 1);
    assert.match(toOutsider.err, /no peer named 'outsider'; household members: laptop|not a household member/);
    // The outsider runs a VM of its own and tries to push it into the household.
    assert.equal(house!.roam('outsider', 'run', 'probe', '--name', 'intruder', '--mem', '32M').code, 0);
    const fromOutsider = house!.roam('outsider', 'send', 'intruder', 'basement');
    assert.equal(fromOutsider.code, 1);
    assert.equal(ps('basement').find((v) => v.name === 'intruder'), undefined);
    assert.equal(ps('basement').find((v) => v.name === 'stays')?.state, 'running', 'the household VM is untouched');
    assert.equal(ps('outsider').find((v) => v.name === 'intruder')?.state, 'running', 'the refused VM keeps running where it was');
  });

  it('a roamd that has sent and received VMs ends on SIGTERM alone (it once hung on its compression worker)', async () => {
    // laptop received the VM of the first test and sent it back; it runs no VM now.
    assert.equal(ps('laptop').length, 0);
    assert.equal(await house!.stopDaemon('laptop'), 'exited', `roamd on laptop needed SIGKILL:\n${house!.log('laptop').slice(-1500)}`);
  });

  it('the README demo (npm run demo) runs to the end', function () {
    this.timeout(240_000);
    const demo = join(ROAM_ENTRY, '..', '..', 'demo', 'main.js');
    const r = spawnSync(process.execPath, [demo], { encoding: 'utf8', timeout: 220_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /sent VM 'session' to 'laptop'/);
    assert.match(r.stdout, /laptop: heartbeat seq=\d+ ok; basement no longer runs it/);
  });
});
