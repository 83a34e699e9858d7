// The hand-off policy without VMs or network: which member is chosen (and why
// others are not), and the runner's budget, fallback to disk and single flight,
// driven by a plain "lid closed" with fakes for the VM, the migration and disk.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseTarget, ROOM_MARGIN_BYTES, type TargetNeeds } from '../node/agent/handoff-target.js';
import { HandoffBusy, HandoffRunner, parkReserveMs, type HandoffHost } from '../node/agent/handoff-runner.js';
import type { MachineRecord, PeerEntry } from '../discovery/index.js';
import type { SendRequest } from '../node/agent/migration-service.js';

const GiB = 2 ** 30;
const cpu = { vendor: 'GenuineIntel', flags: ['fpu', 'sse2', 'lm'] };

function member(name: string, over: Partial<MachineRecord> = {}, entry: Partial<PeerEntry> = {}): PeerEntry {
  const record: MachineRecord = {
    name, role: 'desktop', cpu, memory: { freeBytes: 8 * GiB, totalBytes: 16 * GiB }, power: { source: 'ac', batteryPercent: null },
    lid: null, vms: [], updatedAt: 0, ...over,
  };
  return { peerId: `id-${name}`, name, trust: 'member', presence: 'online', record, addrs: [], lastSeen: 0, note: null, ...entry };
}

const needs = (over: Partial<TargetNeeds> = {}): TargetNeeds => ({ memBytes: 2 * GiB, cpu, ...over });

describe('hand-off target choice', () => {
  it('prefers the household server, else the configured member', () => {
    const all = [member('imac', { memory: { freeBytes: 20 * GiB, totalBytes: 32 * GiB } }), member('basement', { role: 'server' })];
    const c = chooseTarget(all, needs());
    assert.deepEqual([c.ok, c.ok && c.name], [true, 'basement']);
    assert.match(c.why, /household's server/);
    const configured = chooseTarget(all, needs({ preferred: 'imac' }));
    assert.deepEqual([configured.ok, configured.ok && configured.name], [true, 'imac']);
    assert.match(configured.why, /configured hand-off target/);
  });

  it('without a server: a member on AC power with room and a compatible CPU, the roomiest first', () => {
    const all = [
      member('tablet', { power: { source: 'battery', batteryPercent: 80 }, memory: { freeBytes: 30 * GiB, totalBytes: 32 * GiB } }),
      member('small', { memory: { freeBytes: 2 * GiB + ROOM_MARGIN_BYTES - 1, totalBytes: 4 * GiB } }),
      member('amd', { cpu: { vendor: 'AuthenticAMD', flags: cpu.flags } }),
      member('old', { cpu: { vendor: cpu.vendor, flags: ['fpu'] } }),
      member('shut', { lid: 'closed' }),
      member('gone', {}, { presence: 'offline' }),
      member('stranger', {}, { trust: 'untrusted' }),
      member('desk', { memory: { freeBytes: 6 * GiB, totalBytes: 8 * GiB } }),
      member('imac', { memory: { freeBytes: 9 * GiB, totalBytes: 16 * GiB } }),
    ];
    const c = chooseTarget(all, needs());
    assert.ok(c.ok);
    assert.equal(c.name, 'imac');
    assert.match(c.why, /on AC power with room and a compatible CPU/);
  });

  it('says why nobody can take it', () => {
    const c = chooseTarget([
      member('tablet', { power: { source: 'battery', batteryPercent: 50 } }),
      member('small', { memory: { freeBytes: GiB, totalBytes: 2 * GiB } }),
      member('old', { cpu: { vendor: cpu.vendor, flags: ['fpu'] } }),
      member('gone', {}, { presence: 'offline' }),
    ], needs());
    assert.equal(c.ok, false);
    assert.match(c.why, /small: too little free memory \(1024 MiB\)/);
    assert.match(c.why, /old: its CPU lacks sse2, lm/);
    assert.match(c.why, /gone: offline/);
    assert.match(c.why, /tablet: on battery/);
    assert.match(chooseTarget([], needs()).why, /no other household member is known/);
  });
});

/** A fake supervised VM: enough of SupervisedVm/VmSupervisor for the runner and the parking code. */
function fakeVms(names: string[], opts: { saveFails?: boolean } = {}) {
  const ops: string[] = [];
  const vms = new Map(names.map((name) => [name, {
    state: 'running', spec: { name, guest: 'probe', kernelPath: '/k', cmdline: '', memBytes: 64 * 2 ** 20, vcpus: 1 },
    vmp: {
      request: async (req: { op: string; path?: string }) => {
        ops.push(`${name}:${req.op}`);
        if (req.op === 'saveToFile' && opts.saveFails) throw new Error('disk full');
        return { bytes: 64 * 2 ** 20, ms: 1 };
      },
    },
  }]));
  return {
    ops,
    sup: {
      list: () => [...vms.values()].map((v) => ({ name: v.spec.name, state: v.state })),
      get: (n: string) => vms.get(n),
      stop: async (n: string) => { ops.push(`${n}:stop`); vms.delete(n); },
      unknown: (n: string) => `no VM named '${n}'`,
    },
  };
}

describe('hand-off runner (fakes)', function () {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'roam-ld-policy-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function host(peers: PeerEntry[], names: string[], send: (req: SendRequest) => Promise<Record<string, unknown>>, budgetMs = 30_000, vmOpts = {}) {
    const f = fakeVms(names, vmOpts);
    const logs: string[] = [];
    const h = {
      config: { name: 'laptop', role: 'laptop', listen: [], lid: { budgetMs } },
      vms: f.sup, directory: { list: () => peers }, migration: { send },
      currentRecord: () => member('laptop').record!, dialPeer: () => Promise.reject(new Error('unused')), log: (l: string) => logs.push(l),
    } as unknown as HandoffHost;
    return { runner: new HandoffRunner(h, join(dir, 'parked')), ops: f.ops, logs };
  }

  it('sends each running VM to the chosen member and reports it', async () => {
    const sent: string[] = [];
    const { runner } = host([member('basement', { role: 'server' })], ['desk'], async (req) => {
      sent.push(`${req.vm.spec.name}->${req.to.name}`);
      assert.ok(req.signal && req.deadlineMs && req.deadlineMs <= 30_000 - parkReserveMs(30_000, 64 * 2 ** 20));
      return { lastHeartbeatHere: { seq: 41, ok: true } };
    });
    const r = await runner.run('lid close');
    assert.deepEqual(sent, ['desk->basement']);
    assert.equal(r.vms[0]!.outcome, 'sent');
    assert.deepEqual(r.vms[0]!.lastHeartbeatHere, { seq: 41, ok: true });
    assert.match(r.summary, /^1 sent, 0 saved to disk, 0 kept in memory/);
  });

  it('when the budget runs out mid-send, the send is cancelled and the VM saved to disk', async () => {
    let aborted = false;
    const { runner, ops } = host([member('basement', { role: 'server' })], ['desk'], (req) => new Promise((_, reject) => {
      req.signal!.addEventListener('abort', () => { aborted = true; reject(new Error('cancelled')); });
    }), 1_200);
    const r = await runner.run('lid close');
    assert.ok(aborted, 'the migration was told to stop');
    assert.equal(r.vms[0]!.outcome, 'parked');
    assert.match(r.vms[0]!.why, /budget ran out while sending to basement.*saved to disk/);
    assert.deepEqual(ops, ['desk:saveToFile', 'desk:stop']);
    assert.deepEqual(runner.parkedList().map((p) => [p.spec.name, p.spec.memBytes]), [['desk', 64 * 2 ** 20]]);
  });

  it('with no member able to take it, or a failed send, the VM goes to disk; a failed save leaves it running', async () => {
    const none = host([member('tablet', { power: { source: 'battery', batteryPercent: 9 } })], ['a'], () => Promise.reject(new Error('unused')));
    const r1 = await none.runner.run('lid close');
    assert.equal(r1.vms[0]!.outcome, 'parked');
    assert.match(r1.vms[0]!.why, /no member can take it \(tablet: on battery\)/);

    const failing = host([member('basement', { role: 'server' })], ['b'], () => Promise.reject(new Error('destination refused the VM: no room')));
    const r2 = await failing.runner.run('lid close');
    assert.match(r2.vms[0]!.why, /sending to basement failed: destination refused the VM: no room; saved to disk/);

    const full = host([], ['c'], () => Promise.reject(new Error('unused')), 30_000, { saveFails: true });
    const r3 = await full.runner.run('lid close');
    assert.equal(r3.vms[0]!.outcome, 'kept');
    assert.match(r3.vms[0]!.why, /could not save VM 'c'.*disk full; it keeps running here/);
    assert.deepEqual(full.ops, ['c:saveToFile', 'c:resume'], 'the paused VM was resumed, not stopped');
    assert.equal(existsSync(join(dir, 'parked', 'c.parked.json')), false, 'no record of an image that was not written');
  });

  it('runs one hand-off at a time: a second lid close while one runs is refused with a message', async () => {
    let release = () => undefined as void;
    let sends = 0;
    const { runner, logs } = host([member('basement', { role: 'server' })], ['desk'], () => { sends++; return new Promise((resolve) => { release = () => resolve({}); }); });
    const first = runner.run('lid close');
    await assert.rejects(runner.run('lid close'), (e: Error) => e instanceof HandoffBusy && /already running/.test(e.message));
    assert.ok(runner.busy);
    await new Promise((r) => setImmediate(r));
    release();
    const r = await first;
    assert.equal(sends, 1);
    assert.equal(r.vms[0]!.outcome, 'sent');
    assert.ok(logs.some((l) => /ignored: a hand-off is already running/.test(l)));
    assert.equal(runner.busy, false);
  });
});
