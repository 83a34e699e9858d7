// The logind lid watcher against a real dbus-daemon on a private bus and the
// login1 test double: the inhibitor is really held (a descriptor the double
// sees closed), the hand-off runs before the lock goes and the suspend comes
// after both; a second close during a hand-off starts nothing; refusals and a
// missing bus are clear errors; the ACPI fallback is used and said so.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogindLidWatcher, type LidHandlers } from '../node/agent/lid-logind.js';
import { LidWatch, type LidHost } from '../node/agent/lid-watch.js';
import { HandoffRunner } from '../node/agent/handoff-runner.js';
import { VmSupervisor } from '../node/agent/vm-supervisor.js';
import type { AgentConfig } from '../node/agent/config.js';
import { Login1Double, PrivateBus, requireDbus } from './support/login1-double.js';

async function until<T>(what: string, ms: number, probe: () => T | undefined | false): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('lid watcher over D-Bus (private dbus-daemon, login1 double)', function () {
  this.timeout(30_000);
  let dir: string;
  let bus: PrivateBus | undefined;
  let double: Login1Double | undefined;
  const logs: string[] = [];

  before(async function () {
    requireDbus(this);
    dir = mkdtempSync(join(tmpdir(), 'roam-ld-bus-'));
    bus = await PrivateBus.start(dir);
  });
  after(async () => { await bus?.stop(); if (dir) rmSync(dir, { recursive: true, force: true }); });
  afterEach(async () => { await double?.stop(); double = undefined; logs.length = 0; });

  /** Handlers whose hand-off lasts until `finish()` is called; every call is recorded with its time. */
  function controlledHandlers() {
    const calls: { closedAt: number; doneAt: number | null }[] = [];
    let opened = 0;
    let finish = () => undefined as void;
    const h: LidHandlers = {
      closed: () => new Promise<void>((resolve) => {
        const c = { closedAt: Date.now(), doneAt: null as number | null };
        calls.push(c);
        finish = () => { c.doneAt = Date.now(); resolve(); };
      }),
      opened: () => { opened++; },
      onAc: () => true,
      log: (l) => logs.push(l),
    };
    return { h, calls, finish: () => finish(), openedCount: () => opened };
  }

  it('holds a block inhibitor; on close runs the hand-off, then releases the lock, then asks to suspend', async () => {
    double = await Login1Double.start(bus!.address);
    const c = controlledHandlers();
    const w = await LogindLidWatcher.start(bus!.address, c.h);
    try {
      const inhibit = await double.waitFor('the inhibitor', 5_000, (e) => e.event === 'inhibit');
      assert.equal(inhibit.what, 'handle-lid-switch');
      assert.equal(inhibit.mode, 'block');
      assert.match(w.status().inhibitor, /^held/);
      assert.equal(w.status().lid, 'open');

      double.command('lid closed');
      await until('the hand-off to start', 5_000, () => c.calls.length === 1);
      // While the hand-off runs the lock is held and nothing asks for sleep.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(double.count('lock-released'), 0, 'the lock is held during the hand-off');
      assert.equal(double.count('sleep'), 0, 'no sleep is asked for during the hand-off');
      c.finish();
      const released = await double.waitFor('the lock to be released', 5_000, (e) => e.event === 'lock-released');
      const sleep = await double.waitFor('the suspend call', 5_000, (e) => e.event === 'sleep');
      assert.equal(sleep.method, 'Suspend');
      assert.equal(sleep.locksHeld, 0, 'the lock was gone when logind was asked to suspend');
      assert.ok(released.t >= c.calls[0]!.doneAt! - 5, 'the lock went only after the hand-off finished');
      assert.ok(sleep.t >= released.t);
      assert.match(w.status().lastSleep ?? '', /^Suspend at/);

      // Opening the lid takes a new lock and tells the roamd side (which resumes parked VMs).
      double.command('lid open');
      await double.waitFor('a second inhibitor', 5_000, (e) => e.event === 'inhibit', double.events.indexOf(released));
      await until('the opened handler', 5_000, () => c.openedCount() === 1);
    } finally {
      await w.stop();
    }
    await double.waitFor('the lock to be released on stop', 5_000, (e) => e.event === 'lock-released' && double!.count('lock-released') === 2);
  });

  it('a second lid close while a hand-off runs starts no second hand-off', async () => {
    double = await Login1Double.start(bus!.address);
    const c = controlledHandlers();
    const w = await LogindLidWatcher.start(bus!.address, c.h);
    try {
      double.command('lid closed');
      await until('the hand-off to start', 5_000, () => c.calls.length === 1);
      double.command('lid open');
      double.command('lid closed');
      await until('the second close to be noticed', 5_000, () => logs.some((l) => /closed again while the hand-off still runs/.test(l)));
      assert.equal(c.calls.length, 1, 'exactly one hand-off');
      c.finish();
      await double.waitFor('the suspend call', 5_000, (e) => e.event === 'sleep');
      assert.equal(c.calls.length, 1);
      assert.equal(double.count('sleep'), 1, 'one suspend for one hand-off');
    } finally {
      c.finish();
      await w.stop();
    }
  });

  it('a login1 that refuses the inhibitor: start fails with logind\'s reason and holds nothing', async () => {
    double = await Login1Double.start(bus!.address, { refuseInhibit: true });
    const c = controlledHandlers();
    await assert.rejects(LogindLidWatcher.start(bus!.address, c.h), (e: Error) => {
      assert.match(e.message, /logind refused roamd's handle-lid-switch inhibitor/);
      assert.match(e.message, /Access denied by the test double/);
      return true;
    });
    await double.waitFor('the refusal to be reported', 5_000, (e) => e.event === 'inhibit-refused');
    assert.equal(double.count('inhibit'), 0, 'no lock was handed out');
  });

  it('no D-Bus at all, or no logind on it: a clear error', async () => {
    const c = controlledHandlers();
    await assert.rejects(LogindLidWatcher.start(`unix:path=${join(dir, 'no-such-bus')}`, c.h), /cannot connect to D-Bus at unix:path=.*no-such-bus/);
    await assert.rejects(LogindLidWatcher.start('tcp:host=localhost,port=1', c.h), /no usable D-Bus address.*only unix/);
    // The bus is there but nobody owns org.freedesktop.login1.
    await assert.rejects(LogindLidWatcher.start(bus!.address, c.h), /logind \(org\.freedesktop\.login1\) is not on the bus/);
  });

  describe('the lid source roamd picks', () => {
    const config = (lid: AgentConfig['lid']): AgentConfig => ({ name: 'laptop', role: 'laptop', listen: [], ...(lid ? { lid } : {}) });
    function host(cfg: AgentConfig): LidHost & { runs: number } {
      const vms = new VmSupervisor(join(dir, `vms-${Math.random().toString(36).slice(2)}`));
      const h = {
        config: cfg, runs: 0, vms, directory: { list: () => [] }, migration: undefined,
        currentRecord: () => ({ name: 'laptop', role: 'laptop' as const, cpu: { vendor: 'x', flags: [] }, memory: { freeBytes: 0, totalBytes: 0 }, power: { source: 'ac' as const, batteryPercent: null }, lid: null, vms: [], updatedAt: 0 }),
        dialPeer: () => Promise.reject(new Error('no network here')),
        log: (l: string) => logs.push(l),
      } as unknown as LidHost & { runs: number; handoff: HandoffRunner };
      (h as { handoff: HandoffRunner }).handoff = new HandoffRunner(h as never, join(dir, 'parked'));
      const run = h.handoff.run.bind(h.handoff);
      h.handoff.run = (t: string) => { h.runs++; return run(t); };
      return h;
    }

    it('falls back to the ACPI lid state when logind is absent, says so, and hands off on close', async () => {
      const acpi = join(dir, 'acpi-lid');
      mkdirSync(join(acpi, 'LID0'), { recursive: true });
      writeFileSync(join(acpi, 'LID0', 'state'), 'state:      open\n');
      const h = host(config({ dbusAddress: `unix:path=${join(dir, 'no-such-bus')}` }));
      const w = await LidWatch.start(h, { acpiDir: acpi });
      try {
        const s = w.status();
        assert.equal(s.source, 'acpi');
        assert.match(String((s as { inhibitor: string }).inhibitor), /no logind/);
        assert.ok(logs.some((l) => /falling back to the ACPI lid state/.test(l)));
        writeFileSync(join(acpi, 'LID0', 'state'), 'state:      closed\n');
        await until('the hand-off', 5_000, () => h.runs === 1 && w.status().handoff?.finishedAt);
        assert.equal(w.status().handoff!.summary, 'no VM was running');
      } finally {
        await w.stop();
      }
    });

    it('with neither logind nor an ACPI lid, status says the lid is not watched and why', async () => {
      const h = host(config({ dbusAddress: `unix:path=${join(dir, 'no-such-bus')}` }));
      const w = await LidWatch.start(h, { acpiDir: join(dir, 'none') });
      const s = w.status();
      assert.equal(s.source, 'none');
      assert.match((s as { why: string }).why, /no logind \(cannot connect to D-Bus.*\) and no ACPI lid/);
      assert.equal(s.budgetMs, 30_000);
      await w.stop();
    });
  });
});
