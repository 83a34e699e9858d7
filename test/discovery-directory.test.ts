// The peer directory and machine records, without a network: presence ages
// online → stale → away on a fake clock, names resolve, and records from the
// network are checked field by field.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerDirectory, collectRecord, parseRecord, readCpu, readLid, readPower, recordChanged, type MachineRecord } from '../discovery/index.js';

const record = (name: string, over: Partial<MachineRecord> = {}): MachineRecord => ({
  name, role: 'desktop', cpu: { vendor: 'GenuineIntel', flags: ['fpu', 'lm'] }, memory: { freeBytes: 1 << 30, totalBytes: 2 << 30 },
  power: { source: 'ac', batteryPercent: null }, lid: null, vms: [], updatedAt: 1, ...over,
});

describe('discovery: peer directory', () => {
  let now = 0;
  const dir = () => new PeerDirectory({ staleMs: 1000, awayMs: 5000 }, () => now);
  beforeEach(() => { now = 100_000; });

  it('ages a verified member online → stale → offline, and keeps it listed', () => {
    const d = dir();
    d.verified('peerA', record('imac'));
    assert.equal(d.find('imac')?.presence, 'online');
    now += 1500;
    assert.equal(d.list()[0]!.presence, 'stale');
    now += 5000;
    const [e] = d.list();
    assert.equal(e!.presence, 'offline');
    assert.equal(e!.trust, 'member');
    assert.equal(e!.record?.name, 'imac', 'an away member keeps its last record');
  });

  it('drops a stranger once it has been away', () => {
    const d = dir();
    d.sighted('stranger', ['/ip4/10.0.0.9/tcp/1']);
    d.untrusted('stranger', 'failed the proof');
    assert.equal(d.get('stranger')?.trust, 'untrusted');
    now += 6000;
    assert.equal(d.list().length, 0);
  });

  it('marks a member offline at once when its connection closes, and finds peers by name or id', () => {
    const d = dir();
    d.verified('peerA', record('laptop'));
    d.disconnected('peerA');
    assert.equal(d.find('laptop')?.presence, 'offline');
    assert.equal(d.find('peerA')?.name, 'laptop');
    assert.equal(d.find('kitchen'), undefined);
    assert.deepEqual(d.memberNames(), ['laptop']);
  });

  it('never lets a stranger take over a member, and forgetting demotes it', () => {
    const d = dir();
    d.addMember('peerA', 'basement', []);
    d.untrusted('peerA', 'a failed exchange');
    assert.equal(d.get('peerA')?.trust, 'member');
    d.forget('peerA');
    assert.equal(d.get('peerA')?.trust, 'untrusted');
    assert.deepEqual(d.memberNames(), []);
  });
});

describe('discovery: machine records', () => {
  let root: string;
  before(() => { root = mkdtempSync(join(tmpdir(), 'roam-rec-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reads CPU vendor and flags of the first processor', () => {
    const f = join(root, 'cpuinfo');
    writeFileSync(f, 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme sse2 lm\n\nprocessor\t: 1\nvendor_id\t: Other\n');
    assert.deepEqual(readCpu(f), { vendor: 'AuthenticAMD', flags: ['fpu', 'vme', 'sse2', 'lm'] });
  });

  it('reads battery vs AC from power_supply, and a lid state', () => {
    const ps = join(root, 'power');
    mkdirSync(join(ps, 'AC'), { recursive: true }); mkdirSync(join(ps, 'BAT0'), { recursive: true });
    writeFileSync(join(ps, 'AC', 'type'), 'Mains\n'); writeFileSync(join(ps, 'AC', 'online'), '0\n');
    writeFileSync(join(ps, 'BAT0', 'type'), 'Battery\n'); writeFileSync(join(ps, 'BAT0', 'capacity'), '57\n');
    assert.deepEqual(readPower('laptop', ps), { source: 'battery', batteryPercent: 57 });
    writeFileSync(join(ps, 'AC', 'online'), '1\n');
    assert.deepEqual(readPower('laptop', ps), { source: 'ac', batteryPercent: 57 });
    assert.deepEqual(readPower('desktop', ps), { source: 'ac', batteryPercent: null }, 'desktops are on AC');
    const lid = join(root, 'lid');
    mkdirSync(join(lid, 'LID0'), { recursive: true });
    writeFileSync(join(lid, 'LID0', 'state'), 'state:      closed\n');
    assert.equal(readLid(lid), 'closed');
    assert.equal(readLid(join(root, 'no-lid-here')), null);
  });

  it('round-trips its own record and refuses malformed or oversized ones', () => {
    const mine = collectRecord('basement', 'server', [{ name: 'probe', state: 'running', memBytes: 64 << 20 }]);
    assert.deepEqual(parseRecord(JSON.parse(JSON.stringify(mine))), mine);
    const bad: [unknown, RegExp][] = [
      [null, /record/],
      [{ ...mine, name: '../etc' }, /'name'/],
      [{ ...mine, role: 'toaster' }, /'role'/],
      [{ ...mine, memory: { freeBytes: -1, totalBytes: 1 } }, /'memory'/],
      [{ ...mine, cpu: { vendor: 'x', flags: new Array(600).fill('f') } }, /'cpu'/],
      [{ ...mine, vms: [{ name: 'x'.repeat(100), state: 'running', memBytes: 1 }] }, /'vms'/],
      [{ ...mine, power: { source: 'nuclear', batteryPercent: null } }, /'power'/],
    ];
    for (const [v, why] of bad) assert.throws(() => parseRecord(v), why);
  });

  it('notices a change that matters, not a timestamp', () => {
    const a = record('imac');
    assert.equal(recordChanged(a, { ...a, updatedAt: 99 }), false);
    assert.equal(recordChanged(a, { ...a, vms: [{ name: 'probe', state: 'running', memBytes: 1 }] }), true);
    assert.equal(recordChanged(a, { ...a, power: { source: 'battery', batteryPercent: 80 } }), true);
    assert.equal(recordChanged(undefined, a), true);
  });
});
