import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { MigrationError, MigrationReceiver, sendVm } from '../migrate/index.js';
import { FakeHost, FakeVm, SlowLink, startPair } from './fakes/fake-vm.js';

describe('migrate: throttling over a slow link', function () {
  let pair: Awaited<ReturnType<typeof startPair>>;
  let host: FakeHost;
  let receiver: MigrationReceiver;
  const LINK = 8 << 20; // bytes/s
  // The guest dirties 6000 pages/s (~24 MiB/s) over a 4 MiB working set: three times the link.
  const workload = { pagesPerSec: 6000, workingSet: { slot: 0, first: 512, pages: 1024 } };

  before(async () => {
    host = new FakeHost();
    receiver = new MigrationReceiver({ host });
    pair = await startPair((s, peer) => receiver.handle(s, peer));
  });
  after(async () => { receiver.close(); for (const vm of host.created) vm.stop(); await pair.stop(); });

  it('a workload faster than the link converges once the vCPUs are throttled', async () => {
    const src = new FakeVm({ id: 'vm-hot', populate: 300, workload });
    await src.resume();
    await new Promise((r) => setTimeout(r, 200)); // let the working set fill
    const stats = await sendVm({ vm: src, openStream: async () => new SlowLink(await pair.open(), LINK), compression: false, targetDowntimeMs: 50, deadlineMs: 60_000 });
    const dst = host.last()!;
    assert.ok(stats.maxThrottle >= 0.4, `throttle applied: max ${stats.maxThrottle}`);
    assert.ok(src.throttleHistory.some((t) => t > 0), 'the VM was asked to throttle');
    // Throttling went up in steps, never jumping straight to the maximum.
    const up = src.throttleHistory.filter((t) => t > 0);
    for (let i = 1; i < up.length; i++) assert.ok(up[i]! > up[i - 1]!, 'throttle rises step by step');
    assert.equal(dst.hashAtStart, src.hashAtPause, 'and the memory still arrived exactly');
    dst.stop();
  });

  it('gives up cleanly at the deadline: source resumes unthrottled, destination discards', async () => {
    const src = new FakeVm({ id: 'vm-hopeless', populate: 300, workload });
    await src.resume();
    await new Promise((r) => setTimeout(r, 100));
    let err: unknown;
    try {
      await sendVm({ vm: src, openStream: async () => new SlowLink(await pair.open(), LINK), compression: false, targetDowntimeMs: 0.001, deadlineMs: 1500 });
    } catch (e) { err = e; }
    assert.ok(err instanceof MigrationError, String(err));
    assert.equal(err.phase, 'precopy');
    assert.match(err.message, /did not converge before the deadline/);
    assert.equal(src.isRunning(), true);
    assert.equal(src.throttle, 0, 'throttle removed');
    const end = Date.now() + 5000;
    while (!host.last()!.discarded && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(host.last()!.discarded, true);
    src.stop();
  });
});
