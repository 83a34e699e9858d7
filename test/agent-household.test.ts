// roamd end to end, as a household would run it: four machines as network
// namespaces on one switch (basement, imac, laptop, and a neighbour outside
// the household), each running a real roamd; the CLI runs as a real child
// process against each one's control socket (unix sockets are shared across
// network namespaces, so the test drives them all from here).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsLan, requireNetns } from './support/netns.js';
import { requireKvm } from './support/kvm.js';
import { roam, roamJson, stopProcess, until, ROAM_ENTRY as ENTRY } from './support/cli.js';

/** Stated bound: members and strangers on one LAN see each other by mDNS within this long. */
const DISCOVERY_BOUND_MS = 20_000;

/** One raw exchange with a control socket: writes `payload`, returns the reply lines and whether the daemon closed. */
function rawControl(sock: string, payload: string): Promise<{ lines: Record<string, unknown>[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let buf = '';
    const parse = () => buf.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = (closed: boolean) => { clearTimeout(overall); s.destroy(); resolve({ lines: parse(), closed }); };
    const overall = setTimeout(() => done(false), 5000);
    s.on('connect', () => s.write(payload));
    // After the first reply line, give the daemon a moment to close (or not).
    s.on('data', (d) => { const first = !buf.includes('\n'); buf += d.toString(); if (first && buf.includes('\n')) setTimeout(() => done(false), 500); });
    s.on('end', () => done(true));
    s.on('error', (e) => { clearTimeout(overall); reject(e); });
  });
}

interface PeerView { name: string | null; peerId: string; trusted: boolean; trust: string; presence: string; record: { role: string; power: { source: string }; memory: { freeBytes: number; totalBytes: number }; cpu: { vendor: string; flags: string[] }; vms: { name: string }[] } | null }
interface Status { peerId: string; name: string; pid: number; household: { name: string } | null }
interface VmView { name: string; state: string; pid: number; message: string | null; lastHeartbeat: { seq: number; ok: boolean } | null }

describe('roamd household on a LAN of network namespaces', function () {
  this.timeout(120_000);
  const hosts = { basement: 'server', imac: 'desktop', laptop: 'laptop', outsider: 'desktop' } as const;
  type Host = keyof typeof hosts;
  let lan: NetnsLan | undefined;
  let root: string;
  const daemons = new Map<Host, ChildProcess>();
  const logs = new Map<Host, string>();
  const ids = new Map<Host, string>();
  const state = (h: Host) => join(root, h);

  function startDaemon(h: Host): void {
    const child = spawn('ip', ['netns', 'exec', lan!.ns(h), process.execPath, ENTRY, 'daemon', '--state', state(h), '--name', h, '--role', hosts[h]],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    logs.set(h, '');
    child.stderr!.on('data', (d) => logs.set(h, (logs.get(h)! + d.toString()).slice(-20_000)));
    daemons.set(h, child);
  }

  async function stopDaemon(h: Host): Promise<void> {
    const child = daemons.get(h);
    if (child) await stopProcess(child);
  }

  before(async function () {
    requireNetns(this);
    root = mkdtempSync(join(tmpdir(), 'roam-ag-'));
    lan = new NetnsLan(77).create(Object.keys(hosts));
    for (const h of Object.keys(hosts) as Host[]) startDaemon(h);
    for (const h of Object.keys(hosts) as Host[]) {
      const s = await until(`roamd on ${h} to answer`, 20_000, () => {
        const r = roam('status', '--state', state(h), '--json');
        return r.code === 0 && (JSON.parse(r.out) as Status);
      }).catch((e: Error) => { throw new Error(`${e.message}\n${logs.get(h)}`); });
      ids.set(h, s.peerId);
    }
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

  it('keeps its identity key and control socket private (0600)', () => {
    assert.equal(statSync(join(state('basement'), 'identity.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(state('basement'), 'roamd.sock')).mode & 0o777, 0o600);
  });

  it(`finds every other machine by mDNS, with no address given, within ${DISCOVERY_BOUND_MS / 1000} s`, async () => {
    const t0 = Date.now();
    for (const h of Object.keys(hosts) as Host[]) {
      const others = (Object.keys(hosts) as Host[]).filter((o) => o !== h).map((o) => ids.get(o)!);
      await until(`${h} to discover ${others.length} peers`, DISCOVERY_BOUND_MS - (Date.now() - t0), () => {
        const seen = new Set(roamJson<PeerView[]>('peers', '--state', state(h)).map((p) => p.peerId));
        return others.every((id) => seen.has(id));
      });
    }
    // Before anyone is in a household nobody has proved anything: no names, no records leak.
    const early = roamJson<PeerView[]>('peers', '--state', state('basement'));
    for (const p of early) { assert.notEqual(p.trust, 'member'); assert.equal(p.record, null); }
  });

  it('forms a household by invite and join; a code works once and a wrong one is refused', () => {
    assert.equal(roam('init', '--state', state('basement'), '--name', 'home').code, 0);
    const again = roam('init', '--state', state('basement'), '--name', 'other');
    assert.equal(again.code, 1);
    assert.match(again.err, /already belongs to household 'home'/);
    assert.equal(statSync(join(state('basement'), 'household.json')).mode & 0o777, 0o600);

    const code1 = roamJson<{ code: string }>('invite', '--state', state('basement')).code;
    const j1 = roamJson<{ household: string; members: string[] }>('join', code1, '--state', state('imac'));
    assert.equal(j1.household, 'home');
    assert.deepEqual(j1.members, ['basement']);

    const reused = roam('join', code1, '--state', state('outsider'));
    assert.equal(reused.code, 1);
    assert.match(reused.err, /already used/);

    // A well-formed code with a token the household never issued.
    const fields = JSON.parse(Buffer.from(code1.slice('roam1-'.length), 'base64url').toString());
    fields.t = 'A'.repeat(32);
    const forged = 'roam1-' + Buffer.from(JSON.stringify(fields)).toString('base64url');
    const wrong = roam('join', forged, '--state', state('outsider'));
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /invite code is wrong/);
    const garbage = roam('join', 'roam1-nonsense', '--state', state('outsider'));
    assert.equal(garbage.code, 1);
    assert.match(garbage.err, /not a valid roam invite code/);

    const code2 = roamJson<{ code: string }>('invite', '--state', state('basement')).code;
    const j2 = roamJson<{ members: string[] }>('join', code2, '--state', state('laptop'));
    assert.deepEqual(j2.members.sort(), ['basement', 'imac']);

    // The neighbour runs its own household: it knows *a* secret, just not ours.
    assert.equal(roam('init', '--state', state('outsider'), '--name', 'neighbours').code, 0);
  });

  it('lists the other members as trusted, online, with their records; the neighbour as untrusted', async () => {
    const want = (h: Host, list: PeerView[]) => {
      for (const m of (['basement', 'imac', 'laptop'] as Host[]).filter((x) => x !== h)) {
        const p = list.find((x) => x.peerId === ids.get(m));
        if (!p || p.trust !== 'member' || p.presence !== 'online' || !p.record) return false;
      }
      const o = list.find((x) => x.peerId === ids.get('outsider'));
      return o?.trust === 'untrusted';
    };
    for (const h of ['basement', 'imac', 'laptop'] as Host[]) {
      await until(`${h} to list the household`, 20_000, () => want(h, roamJson<PeerView[]>('peers', '--state', state(h))));
    }
    const list = roamJson<PeerView[]>('peers', '--state', state('basement'));
    const imac = list.find((p) => p.name === 'imac')!;
    assert.equal(imac.trusted, true);
    const laptop = list.find((p) => p.name === 'laptop')!;
    assert.equal(imac.record!.role, 'desktop');
    assert.equal(laptop.record!.role, 'laptop');
    assert.equal(imac.record!.power.source, 'ac');
    assert.ok(imac.record!.memory.freeBytes > 0 && imac.record!.memory.freeBytes <= imac.record!.memory.totalBytes);
    assert.notEqual(imac.record!.cpu.vendor, '');
    const outsider = list.find((p) => p.peerId === ids.get('outsider'))!;
    assert.equal(outsider.trusted, false);
    assert.equal(outsider.name, null, 'a non-member never learns a name');
    assert.equal(outsider.record, null);
    // The neighbour, in turn, learned nothing about the household's machines.
    const theirs = roamJson<PeerView[]>('peers', '--state', state('outsider'));
    for (const p of theirs) { assert.equal(p.record, null); assert.notEqual(p.trust, 'member'); }
    const human = roam('peers', '--state', state('basement'));
    assert.match(human.out, /imac\s+member\s+online\s+desktop/);
  });

  it('refuses a non-member on every roam protocol, and serves a member', async () => {
    const probe = (from: Host, to: Host) => new Promise<Record<string, string>>((resolve, reject) => {
      const s = connect(join(state(from), 'roamd.sock'));
      let buf = '';
      s.on('connect', () => s.write(JSON.stringify({ op: 'probe-protocols', peer: ids.get(to) }) + '\n'));
      s.on('data', (d) => { buf += d; if (buf.includes('\n')) { s.end(); const r = JSON.parse(buf); r.ok ? resolve(r.result) : reject(new Error(r.error)); } });
      s.on('error', reject);
    });
    const fromOutsider = await probe('outsider', 'basement');
    assert.deepEqual(Object.keys(fromOutsider).sort(),
      ['/roam/home/1.0.0', '/roam/migrate/1.0.0', '/roam/migrations/1.0.0', '/roam/peer/1.0.0', '/roam/screen/1.0.0', '/roam/send/1.0.0', '/roam/store/1.0.0']);
    for (const [proto, verdict] of Object.entries(fromOutsider)) assert.match(verdict, /^refused/, `${proto}: ${verdict}`);
    const fromMember = await probe('imac', 'basement');
    assert.equal(fromMember['/roam/peer/1.0.0'], 'open');
  });

  it('refuses bad input with clear errors, and the daemon stays healthy', async () => {
    const sock = join(state('basement'), 'roamd.sock');
    const notJson = await rawControl(sock, 'this is not json\n');
    assert.equal(notJson.lines[0]?.ok, false);
    assert.match(String(notJson.lines[0]?.error), /not JSON/);
    assert.ok(notJson.closed, 'the connection is closed after a bad request');
    const big = await rawControl(sock, JSON.stringify({ op: 'status', pad: 'x'.repeat(70 * 1024) }) + '\n');
    assert.equal(big.lines[0]?.ok, false);
    assert.match(String(big.lines[0]?.error), /over 65536 bytes/);
    assert.ok(big.closed);
    const endless = await rawControl(sock, 'y'.repeat(100 * 1024));
    assert.match(String(endless.lines[0]?.error), /over 65536 bytes/);
    const unknownOp = await rawControl(sock, '{"op":"explode"}\n');
    assert.match(String(unknownOp.lines[0]?.error), /unknown op 'explode'/);
    assert.equal(unknownOp.closed, false, 'a well-formed request with a bad op keeps the connection');

    const cases: [string[], RegExp][] = [
      [['stop', 'nosuchvm'], /no VM named 'nosuchvm'/],
      [['console', 'nosuchvm'], /no VM named 'nosuchvm'/],
      [['send', 'nosuchvm', 'imac'], /no VM named 'nosuchvm'/],
      [['forget', 'kitchen'], /no peer named 'kitchen'; household members: imac, laptop/],
    ];
    for (const [args, why] of cases) {
      const r = roam(...args, '--state', state('basement'));
      assert.equal(r.code, 1, `${args.join(' ')} → ${r.code} ${r.err}`);
      assert.match(r.err, why, args.join(' '));
    }
    const usage = roam('send', 'onlyone', '--state', state('basement'));
    assert.equal(usage.code, 2);
    assert.match(usage.err, /missing the VM and the machine/);
    const absent = roam('status', '--state', join(root, 'nobody-here'));
    assert.equal(absent.code, 1);
    assert.match(absent.err, /roamd is not running \(state dir .*nobody-here\); start it with `roam daemon --state/);
    assert.equal(roamJson<Status>('status', '--state', state('basement')).name, 'basement');
  });

  it('runs, lists, streams and stops a VM; a killed VM process is reported as crashed', async function () {
    requireKvm(this);
    const b = state('basement');
    const started = roamJson<VmView>('run', 'probe', '--mem', '64M', '--ws', '4M', '--rate', '2M', '--state', b);
    assert.equal(started.name, 'probe');
    const running = await until('the probe to beat', 20_000, () => {
      const v = roamJson<VmView[]>('ps', '--state', b).find((x) => x.name === 'probe');
      return v?.state === 'running' && v.lastHeartbeat?.ok === true && v;
    });
    assert.ok(running.pid > 0);
    // Members see the VM in basement's record.
    await until('imac to see the VM in basement\'s record', 15_000, () =>
      roamJson<PeerView[]>('peers', '--state', state('imac')).find((p) => p.name === 'basement')?.record?.vms.some((v) => v.name === 'probe'));

    // The console streams heartbeats; Ctrl-C (SIGINT) detaches with exit 0 and the VM keeps running.
    const con = spawn(process.execPath, [ENTRY, 'console', 'probe', '--state', b], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    con.stdout!.on('data', (d) => { out += d; });
    await until('console output', 10_000, () => /HB seq=\d+/.test(out));
    const exited = new Promise<number | null>((r) => con.once('exit', (c) => r(c)));
    con.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(out, /PROBE boot/);

    // send: names are checked before anything moves (sending itself is test/agent-send.test.ts).
    const badPeer = roam('send', 'probe', 'kitchen', '--state', b);
    assert.equal(badPeer.code, 1);
    assert.match(badPeer.err, /no peer named 'kitchen'; household members: imac, laptop/);
    const stranger = roam('send', 'probe', ids.get('outsider')!, '--state', b);
    assert.equal(stranger.code, 1);
    assert.match(stranger.err, /is not a household member/);

    assert.equal(roam('stop', 'probe', '--state', b).code, 0);
    assert.equal(roamJson<VmView[]>('ps', '--state', b).length, 0);

    const victim = roamJson<VmView>('run', 'probe', '--name', 'victim', '--mem', '32M', '--ws', '2M', '--state', b);
    process.kill(victim.pid, 'SIGKILL');
    const crashed = await until('the killed VM to show as crashed', 10_000, () => {
      const v = roamJson<VmView[]>('ps', '--state', b).find((x) => x.name === 'victim');
      return v?.state === 'crashed' && v;
    });
    assert.match(crashed.message ?? '', /crashed \(killed by SIGKILL\)/);
    assert.equal(roamJson<Status>('status', '--state', b).name, 'basement', 'roamd survives a VM crash');
    assert.equal(roam('stop', 'victim', '--state', b).code, 0);
    assert.equal(roamJson<VmView[]>('ps', '--state', b).length, 0);
  });

  it('says a member that went away is offline', async function () {
    requireKvm(this);
    const b = state('basement');
    roamJson<VmView>('run', 'probe', '--name', 'desk', '--mem', '32M', '--ws', '2M', '--state', b);
    try {
      await stopDaemon('imac');
      await until('basement to see imac offline', 15_000, () =>
        roamJson<PeerView[]>('peers', '--state', b).find((p) => p.name === 'imac')?.presence !== 'online');
      const r = roam('send', 'desk', 'imac', '--state', b);
      assert.equal(r.code, 1);
      assert.match(r.err, /peer 'imac' is (offline|stale)/);
    } finally {
      roam('stop', 'desk', '--state', b);
    }
  });

  it('a restarted roamd keeps its identity and membership, and comes back online', async () => {
    startDaemon('imac');
    const s = await until('imac to answer again', 20_000, () => {
      const r = roam('status', '--state', state('imac'), '--json');
      return r.code === 0 && (JSON.parse(r.out) as Status);
    });
    assert.equal(s.peerId, ids.get('imac'), 'same peer id after a restart');
    assert.equal(s.household?.name, 'home');
    await until('basement to see imac online again', 20_000, () => {
      const p = roamJson<PeerView[]>('peers', '--state', state('basement')).find((x) => x.peerId === ids.get('imac'));
      return p?.trust === 'member' && p.presence === 'online';
    });
  });

  it('forgets a member, which is refused from then on', async () => {
    assert.equal(roam('forget', 'laptop', '--state', state('basement')).code, 0);
    const list = roamJson<PeerView[]>('peers', '--state', state('basement'));
    assert.equal(list.find((p) => p.peerId === ids.get('laptop'))?.trust, 'untrusted');
    const r = await new Promise<Record<string, string>>((resolve, reject) => {
      const s = connect(join(state('laptop'), 'roamd.sock'));
      let buf = '';
      s.on('connect', () => s.write(JSON.stringify({ op: 'probe-protocols', peer: ids.get('basement') }) + '\n'));
      s.on('data', (d) => { buf += d; if (buf.includes('\n')) { s.end(); const x = JSON.parse(buf); x.ok ? resolve(x.result) : reject(new Error(x.error)); } });
      s.on('error', reject);
    });
    for (const [proto, verdict] of Object.entries(r)) assert.match(verdict, /^refused/, `${proto}: ${verdict}`);
    assert.ok(existsSync(join(state('basement'), 'members.json')));
  });
});
