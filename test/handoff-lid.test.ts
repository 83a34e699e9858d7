// The lid hand-off and "follow me", end to end: basement (the household's
// server) and laptop as network namespaces, each running a real roamd with a
// home tree; laptop's roamd watches the lid through a real dbus-daemon on a
// private bus with the login1 test double on it. The probe guest's heartbeat
// is the witness that no memory, time or output was lost on the way.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Household, until } from '../node/demo/household.js';
import { requireNetns } from './support/netns.js';
import { continuesAcross } from './support/heartbeat.js';
import { requireKvm } from './support/kvm.js';
import { Login1Double, PrivateBus, requireDbus } from './support/login1-double.js';
import { describeTree, generateTree } from './storage-tree.js';

interface Beat { seq: number; ok: boolean }
interface VmView { name: string; state: string; guest: string; lastHeartbeat: Beat | null; heartbeats: { first: number | null; count: number; gaps: number; repeats: number } }
interface SendResult { vm: string; to: string; lastHeartbeatHere: Beat | null; home: { followed: boolean; snapshot?: string; files?: number; reason?: string } }
interface VmReport { vm: string; outcome: string; to: string | null; why: string; at: string | null; lastHeartbeatHere?: Beat | null }
interface LidView { source: string; lid?: string; inhibitor?: string; handoff: { summary: string; finishedAt: string | null; vms: VmReport[] } | null; handoffRunning: boolean; parked: { vm: string; why: string }[] }

const BUDGET_MS = 15_000;

describe('lid close hands the session off; follow me (roamd in namespaces, logind double on a private bus)', function () {
  this.timeout(150_000);
  let house: Household | undefined;
  let bus: PrivateBus | undefined;
  let double: Login1Double | undefined;
  let root: string;
  const home = (m: string) => join(root, `home-${m}`);

  before(async function () {
    requireNetns(this);
    requireKvm(this);
    requireDbus(this);
    root = mkdtempSync(join(tmpdir(), 'roam-ld-'));
    bus = await PrivateBus.start(root);
    double = await Login1Double.start(bus.address);
    house = new Household(root, [{ name: 'basement', role: 'server' }, { name: 'laptop', role: 'laptop' }], { net: 83, prefix: 'roam-ld-' });
    // roamd reads its home and lid settings from its config (the flags `roam daemon` has not got are set here).
    for (const m of ['basement', 'laptop']) {
      mkdirSync(home(m));
      mkdirSync(house.stateDir(m), { recursive: true, mode: 0o700 });
      writeFileSync(join(house.stateDir(m), 'config.json'), JSON.stringify({
        home: { dir: home(m), follow: false },
        ...(m === 'laptop' ? { lid: { watcher: 'logind', dbusAddress: bus.address, budgetMs: BUDGET_MS } } : {}),
      }));
    }
    await house.start();
    house.formHousehold('ld-home');
    await house.waitUntilAllSeeEachOther(30_000);
  });

  after(async function () {
    this.timeout(30_000);
    await house?.stop();
    await double?.stop();
    await bus?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && house) for (const m of house.machines) console.error(`--- roamd ${m.name} ---\n${house.log(m.name).slice(-4000)}`);
  });

  const ps = (m: string) => house!.roamJson<VmView[]>(m, 'ps');
  const vmOn = (m: string, name: string) => ps(m).find((v) => v.name === name);
  const beatsOn = (m: string, name: string, atLeast: number) => until(`${name} to beat ${atLeast} times on ${m}`, 30_000, () => {
    const vm = vmOn(m, name);
    return vm && vm.heartbeats.count >= atLeast ? vm : undefined;
  });
  const lid = () => house!.roamJson<{ lid: LidView | null }>('laptop', 'status').lid!;
  const link = (m: string, state: 'up' | 'down') => {
    const ns = house!.lan.ns(m);
    const r = spawnSync('ip', ['-n', ns, 'link', 'set', 'eth0', state], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // Bringing the link down drops its routes; mDNS needs the multicast one back.
    if (state === 'up') spawnSync('ip', ['-n', ns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0']);
  };
  /** When roamd on `m` logged a line matching `re` (its lines start with an ISO time). */
  const loggedAt = (m: string, re: RegExp) => {
    const line = house!.log(m).split('\n').find((l) => re.test(l));
    return line ? Date.parse(line.slice(0, 24)) : undefined;
  };

  /**
   * Whether a VM's heartbeat on `to` continues exactly from `lastSeq` seen on `from`. The pause can
   * fall in the middle of a heartbeat line (the guest writes it byte by byte): then neither side
   * parses beat lastSeq+1, but its first half ends `from`'s console log and its second half is a line
   * of `to`'s, and together they are that beat, verified ok. Anything else is a lost or replayed beat.
   */
  const continuesExactly = (vm: string, from: string, to: string, lastSeq: number, first: number): boolean => {
    const log = (m: string) => readFileSync(join(house!.stateDir(m), 'vms', `${vm}.log`), 'latin1');
    return continuesAcross(log(from), log(to), lastSeq, first);
  };

  it('follow me: after `roam send desk laptop` returns, laptop runs it and holds the home as it was at send time, with every link cut', async () => {
    await generateTree(home('basement'), { smallFiles: 60, bigFiles: 1, bigSize: 700_000, seed: 11 });
    const run = house!.roam('basement', 'run', 'probe', '--name', 'desk', '--mem', '128M', '--ws', '16M', '--rate', '16M', '--beat', '50ms');
    assert.equal(run.code, 0, run.err);
    await beatsOn('basement', 'desk', 5);

    const sent = house!.roamJson<SendResult>('basement', 'send', 'desk', 'laptop');
    const atSend = await describeTree(home('basement'));
    assert.equal(sent.to, 'laptop');
    assert.equal(sent.home.followed, true, JSON.stringify(sent.home));
    assert.match(sent.home.snapshot ?? '', /^[0-9a-f]{64}$/);
    assert.ok((sent.home.files ?? 0) >= 61, `the snapshot handed over holds the generated files (${sent.home.files})`);
    // basement's home moves on after the send; the laptop keeps what it was handed.
    writeFileSync(join(home('basement'), 'written-after-the-send.txt'), 'later\n');

    link('laptop', 'down');
    try {
      const before = await beatsOn('laptop', 'desk', 5);
      const later = await until('desk to keep beating on the cut-off laptop', 20_000, () => {
        const vm = vmOn('laptop', 'desk');
        return vm && vm.lastHeartbeat && vm.lastHeartbeat.seq >= before.lastHeartbeat!.seq + 10 ? vm : undefined;
      });
      assert.equal(later.state, 'running');
      assert.equal(later.lastHeartbeat!.ok, true);
      assert.ok(continuesExactly('desk', 'basement', 'laptop', sent.lastHeartbeatHere!.seq, later.heartbeats.first!),
        `the heartbeat continues exactly: last on basement ${sent.lastHeartbeatHere!.seq}, first on laptop ${later.heartbeats.first}`);
      assert.equal(later.heartbeats.gaps, 0);
      assert.deepEqual(await describeTree(home('laptop')), atSend, 'laptop holds the home as it was when the send returned');
    } finally {
      link('laptop', 'up');
    }
    await house!.waitUntilAllSeeEachOther(45_000);
  });

  it('closing the lid sends the session to basement, and only then releases the lock and asks logind to suspend', async () => {
    const mark = double!.events.length;
    const beforeClose = vmOn('laptop', 'desk');
    assert.equal(beforeClose?.state, 'running');
    double!.command('lid closed');
    const sleep = await double!.waitFor('laptop to ask for sleep', BUDGET_MS + 10_000, (e) => e.event === 'sleep', mark);
    assert.equal(sleep.method, 'Suspend');
    assert.equal(sleep.locksHeld, 0, 'roamd let go of its lock before asking');
    const released = await double!.waitFor('the lock release', 1_000, (e) => e.event === 'lock-released', mark);

    const report = lid().handoff!;
    assert.equal(report.vms.length, 1);
    const r = report.vms[0]!;
    assert.equal(r.outcome, 'sent', r.why);
    assert.equal(r.to, 'basement');
    assert.match(r.why, /basement is the household's server/);
    const ranOnBasement = loggedAt('basement', /VM 'desk' \(generation \d+\) arrived from laptop and runs here/);
    assert.ok(ranOnBasement, 'basement logged that it runs desk');
    assert.ok(ranOnBasement! <= released.t && released.t <= sleep.t, `order: runs on basement ${ranOnBasement}, lock released ${released.t}, suspend ${sleep.t}`);

    const there = await beatsOn('basement', 'desk', 5);
    assert.equal(there.state, 'running');
    assert.ok(continuesExactly('desk', 'laptop', 'basement', r.lastHeartbeatHere!.seq, there.heartbeats.first!),
      `the heartbeat continues exactly: last on laptop ${r.lastHeartbeatHere!.seq}, first on basement ${there.heartbeats.first}`);
    assert.equal(there.heartbeats.gaps, 0);
    assert.equal(there.heartbeats.repeats, 0);
    assert.equal(there.lastHeartbeat!.ok, true);
    assert.equal(vmOn('laptop', 'desk'), undefined, 'laptop no longer runs it');

    double!.command('lid open');
    await double!.waitFor('laptop to take a new lock', 5_000, (e) => e.event === 'inhibit', double!.events.indexOf(sleep));
  });

  it('with basement unreachable, closing the lid saves the VM to disk and suspends within the budget; opening the lid resumes it', async () => {
    assert.equal(house!.roam('laptop', 'run', 'probe', '--name', 'trip', '--mem', '64M', '--ws', '8M', '--rate', '8M', '--beat', '50ms').code, 0);
    const running = await beatsOn('laptop', 'trip', 5);
    link('basement', 'down');
    try {
      const mark = double!.events.length;
      double!.command('lid closed');
      const closed = await double!.waitFor('the lid close', 5_000, (e) => e.event === 'lid' && e.closed === true, mark);
      const sleep = await double!.waitFor('laptop to ask for sleep', BUDGET_MS + 10_000, (e) => e.event === 'sleep', mark);
      assert.ok(sleep.t - closed.t <= BUDGET_MS, `suspend came ${sleep.t - closed.t} ms after the lid closed (budget ${BUDGET_MS} ms)`);
      const view = lid();
      const r = view.handoff!.vms.find((v) => v.vm === 'trip')!;
      assert.equal(r.outcome, 'parked', r.why);
      assert.match(r.why, /saved to disk/);
      assert.deepEqual(view.parked.map((p) => p.vm), ['trip']);
      assert.equal(vmOn('laptop', 'trip'), undefined, 'no VM process runs while it is on disk');

      double!.command('lid open');
      const back = await until('trip to run again from disk', 30_000, () => {
        const vm = vmOn('laptop', 'trip');
        return vm && vm.heartbeats.count >= 5 ? vm : undefined;
      });
      assert.match(back.guest, /resumed from disk/);
      assert.ok(back.heartbeats.first! > running.lastHeartbeat!.seq, 'the guest continues where it was, not from its boot');
      assert.equal(back.heartbeats.gaps, 0);
      assert.equal(back.lastHeartbeat!.ok, true, 'the guest verifies its memory after the restore');
      assert.deepEqual(lid().parked, [], 'the image is gone once the VM runs');
    } finally {
      link('basement', 'up');
    }
  });

  it('`roam status` says where lid events come from and what the last hand-off did', () => {
    const r = house!.roam('laptop', 'status');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^lid: logind on unix:path=.*, lid open, inhibitor held since/m);
    assert.match(r.out, /^last hand-off \(lid close\): 0 sent, 1 saved to disk/m);
    const b = house!.roam('basement', 'status');
    assert.match(b.out, /^lid: not watched \(this machine's role is server, not laptop\)/m);
  });
});
