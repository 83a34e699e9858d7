// The screen across household members: real roamd in network namespaces. basement
// runs the probe guest; "viewer" (a roamd whose screen service the test drives)
// watches it over /roam/screen/1.0.0, types into it, and keeps watching while
// `roam send` moves the VM to laptop and back: each move shows as 'moving', then
// 'live' on the new host with a full update.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { Household, stopProcess, until, type MachineSpec } from '../node/demo/household.js';
import { requireNetns } from './support/netns.js';
import { requireKvm } from './support/kvm.js';

const VIEWER = join(dirname(fileURLToPath(import.meta.url)), 'support', 'screen-viewer.js');

type Line = { at: number; dial?: string; s?: { state: string; host?: string; from?: string; reason?: string }; u?: { full: boolean; width: number; height: number; rects: number; bytes: number; colours: number }; bad?: string; closed?: string };

/** What a driver machine (screen-viewer.ts) reported, and its stderr. */
interface Driver { child: ChildProcess; lines: Line[]; log: string }

/** A household whose 'viewer' and 'outsider' machines run the screen-viewer driver instead of `roam daemon`. */
class ScreenHousehold extends Household {
  readonly drivers = new Map<string, Driver>();

  override startDaemon(m: MachineSpec): void {
    if (m.name !== 'viewer' && m.name !== 'outsider') { super.startDaemon(m); return; }
    mkdirSync(this.stateDir(m.name), { recursive: true, mode: 0o700 });
    const child = spawn('ip', ['netns', 'exec', this.lan.ns(m.name), process.execPath, VIEWER, '--state', this.stateDir(m.name), '--name', m.name],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    const d: Driver = { child, lines: [], log: '' };
    createInterface({ input: child.stdout! }).on('line', (l) => { try { d.lines.push(JSON.parse(l) as Line); } catch { /* not ours */ } });
    child.stderr!.on('data', (b) => { d.log = (d.log + b.toString()).slice(-20_000); });
    this.drivers.set(m.name, d);
  }

  get lines(): Line[] { return this.drivers.get('viewer')!.lines; }

  tell(m: object, to = 'viewer'): void { this.drivers.get(to)!.child.stdin!.write(`${JSON.stringify(m)}\n`); }

  override async stop(): Promise<void> {
    for (const d of this.drivers.values()) { d.child.stdin!.end(); await stopProcess(d.child, 10_000); }
    await super.stop();
  }
}

describe('screen across roamd in network namespaces, following roam send', function () {
  this.timeout(240_000);
  let house: ScreenHousehold | undefined;
  let root: string;

  before(async function () {
    requireNetns(this);
    requireKvm(this);
    root = mkdtempSync(join(tmpdir(), 'roam-sc-'));
    house = new ScreenHousehold(root, [
      { name: 'basement', role: 'server' }, { name: 'laptop', role: 'laptop' }, { name: 'viewer', role: 'desktop' }, { name: 'outsider', role: 'desktop' },
    ], { net: 85, prefix: 'roam-sc-' });
    await house.start(40_000);
    // basement, laptop and viewer form the household; outsider stays outside it.
    house.roamJson('basement', 'init', '--name', 'screen-home');
    for (const m of ['laptop', 'viewer']) house.roamJson(m, 'join', house.roamJson<{ code: string }>('basement', 'invite').code);
    await until('the members to see each other', 40_000, () => ['basement', 'laptop', 'viewer'].every((m) => {
      const peers = house!.roamJson<{ name: string | null; trusted: boolean; presence: string }[]>(m, 'peers');
      return ['basement', 'laptop', 'viewer'].every((o) => o === m || peers.some((p) => p.name === o && p.trusted && p.presence === 'online'));
    }));
    const run = house.roam('basement', 'run', 'probe', '--name', 'desk', '--mem', '64M', '--ws', '4M', '--rate', '4M', '--beat', '100ms');
    assert.equal(run.code, 0, run.err);
    // The desktop is drawn once the guest is up: wait for its heartbeats.
    await until('the guest to beat', 30_000, () => (house!.roamJson<{ name: string; heartbeats: { count: number } }[]>('basement', 'ps').find((v) => v.name === 'desk')?.heartbeats.count ?? 0) >= 3);
  });

  after(async function () {
    this.timeout(60_000);
    await house?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && house) {
      for (const m of ['basement', 'laptop']) console.error(`--- roamd ${m} ---\n${house.log(m).slice(-3000)}`);
      for (const [name, d] of house.drivers) console.error(`--- ${name} ---\n${d.log.slice(-3000)}\n${JSON.stringify(d.lines.filter((l) => !l.u).slice(-20))}`);
    }
  });

  const since = (i: number) => house!.lines.slice(i);
  /** Index of the first line at or after `from` matching, once it exists. */
  const seen = (what: string, from: number, match: (l: Line) => boolean, ms = 60_000) =>
    until(what, ms, () => { const k = house!.lines.findIndex((l, j) => j >= from && match(l)); return k >= 0 ? k + 1 : undefined; });

  it('a member watches a VM running on another member: the whole screen, then what changes', async () => {
    house!.tell({ watch: 'desk' });
    const live = await seen('viewer live on basement', 0, (l) => l.s?.state === 'live' && l.s.host === 'basement');
    const full = await seen('a full update', live, (l) => l.u?.full === true);
    const u = house!.lines[full - 1]!.u!;
    assert.equal(u.width, 1024); assert.equal(u.height, 768);
    assert.ok(u.colours > 2, `the guest's desktop arrived (${u.colours} colours sampled)`);
    await seen('partial updates', full, (l) => l.u?.full === false && l.u.rects > 0);
    assert.equal(since(0).filter((l) => l.bad).length, 0, 'every update decoded and lay inside the screen');
  });

  it('keys typed on the viewer reach the guest on basement', async () => {
    const log = () => readFileSync(join(house!.stateDir('basement'), 'vms', 'desk.log'), 'latin1');
    const before = log().length;
    for (const code of ['KeyR', 'KeyO', 'KeyA', 'KeyM']) { house!.tell({ input: { type: 'key', code, down: true } }); house!.tell({ input: { type: 'key', code, down: false } }); }
    await until('KEY lines in the guest\'s console', 30_000, () => (log().slice(before).match(/^KEY [a-z]$/gm) ?? []).length >= 4);
    assert.deepEqual(log().slice(before).match(/^KEY [a-z]$/gm), ['KEY r', 'KEY o', 'KEY a', 'KEY m']);
  });

  it('follows the VM when `roam send` moves it to laptop and back: moving, then live there with a full update', async () => {
    for (const [from, to] of [['basement', 'laptop'], ['laptop', 'basement']] as const) {
      const mark = house!.lines.length;
      const sent = house!.roam(from, 'send', 'desk', to, '--json');
      assert.equal(sent.code, 0, sent.err);
      const moving = await seen(`moving from ${from}`, mark, (l) => l.s?.state === 'moving');
      assert.equal(house!.lines[moving - 1]!.s!.from, from);
      const live = await seen(`live on ${to}`, moving, (l) => l.s?.state === 'live');
      assert.equal(house!.lines[live - 1]!.s!.host, to);
      const full = await seen(`a full update from ${to}`, live, (l) => l.u !== undefined);
      const u = house!.lines[full - 1]!.u!;
      assert.equal(u.full, true, 'the first update from the new host is the whole screen');
      assert.ok(u.colours > 2);
      await seen(`updates go on from ${to}`, full, (l) => l.u?.full === false);
      const at = (i: number) => house!.lines[i - 1]!.at;
      console.log(`      ${from} → ${to}: 'moving' to 'live' ${at(live) - at(moving)} ms, to the full update ${at(full) - at(moving)} ms (${u.bytes} bytes)`);
      assert.equal(since(mark).filter((l) => l.s?.state === 'gone' || l.closed || l.bad).length, 0, `no gone, closed or bad update: ${JSON.stringify(since(mark).filter((l) => !l.u))}`);
    }
  });

  it('a machine outside the household is refused on /roam/screen/1.0.0; a member is answered', async () => {
    const basement = house!.roamJson<{ peerId: string }>('basement', 'status').peerId;
    const dialed = async (who: string) => {
      const d = house!.drivers.get(who)!;
      const mark = d.lines.length;
      house!.tell({ dial: basement, vm: 'desk' }, who);
      return until(`${who}'s dial`, 30_000, () => d.lines.slice(mark).find((l) => l.dial)?.dial);
    };
    assert.match(await dialed('outsider'), /^refused/);
    assert.equal(await dialed('viewer'), 'ready');
  });
});
