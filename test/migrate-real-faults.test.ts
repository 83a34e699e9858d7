// Faults with the real VM: the destination's VM process dies in round 0 or after
// `ready`, or the sender cancels — every time the guest keeps running at the source
// (its heartbeat continues there, memory verified) and nothing runs at the destination.
import assert from 'node:assert/strict';
import { HeartbeatWatcher } from '../guest/index.js';
import { MigrationError, sendVm } from '../migrate/index.js';
import { T } from '../migrate/frames.js';
import { MigratableVm, VmProcessHost, type VmProcess } from '../node/vm-host/index.js';
import { requireKvm } from './support/kvm.js';
import { MiB, bootProbe, moreBeats, probeReady, startPeer, waitFor, type MigrationPeer } from './migrate-real-support.js';

describe('real VM migration faults: the source keeps the VM, the destination keeps nothing', function () {
  this.timeout(120_000);
  const watcher = new HeartbeatWatcher();
  let src: VmProcess | undefined;
  let vm: MigratableVm;
  let a: MigrationPeer, b: MigrationPeer;
  const created: MigratableVm[] = [];
  let fault: { onFrame?: (type: T, round: number) => void; onReady?: () => Promise<void> } = {};

  before(async function () {
    requireKvm(this);
    src = await bootProbe(watcher, 'fill=32M ws=8M rate=8M beat=50ms entropy=0.3', 64 * MiB);
    await probeReady(watcher);
    vm = await MigratableVm.attach(src, { id: 'probe-faults', generation: 1 });
    const host = new VmProcessHost({ onCreated: (v) => { created.push(v); v.process.on('serial', (d: Buffer) => watcher.push(d)); } });
    a = await startPeer({ host: new VmProcessHost() });
    b = await startPeer({
      host, readyGraceMs: 1000,
      onFrame: (f, round) => fault.onFrame?.(f.type, round),
      onStateChange: async (state) => { if (state === 'ready') await fault.onReady?.(); },
    });
  });
  after(async () => {
    await src?.kill();
    await Promise.all(created.map((v) => v.process.kill()));
    await a?.stop(); await b?.stop();
  });
  afterEach(() => { fault = {}; });

  /** The source runs the guest, unthrottled and intact; the destination's VM process is gone. */
  async function assertStayedHere(err: unknown, phase: string): Promise<void> {
    assert.ok(err instanceof MigrationError, `expected a MigrationError, got ${String(err)}`);
    assert.equal(err.phase, phase);
    assert.equal(err.vmState, 'running-here');
    assert.equal(vm.isRunning(), true);
    const dest = created[created.length - 1]!;
    await waitFor(() => !dest.process.alive, 'the destination VM process to end');
    const seq = watcher.lastSeq;
    await moreBeats(watcher, 6);
    assert.ok(watcher.lastSeq >= seq + 6, 'the heartbeat continues at the source');
    assert.equal(watcher.gaps, 0); assert.equal(watcher.repeats, 0);
    assert.equal(watcher.corruptPage, undefined); assert.equal(watcher.lastHeartbeat?.ok, true);
  }

  it('destination VM process killed in round 0', async () => {
    let killed = false;
    fault.onFrame = (type, round) => {
      if (!killed && type === T.PAGES && round === 0) { killed = true; process.kill(created[created.length - 1]!.process.pid, 'SIGKILL'); }
    };
    const err = await sendVm({ vm, openStream: () => a.open(b.addr) }).then(() => null, (e: unknown) => e);
    assert.equal(killed, true);
    await assertStayedHere(err, 'precopy');
    assert.match((err as Error).message, /destination.*VM process \d+ (crashed|killed)/);
  });

  it('destination VM process killed after ready (commit cannot run it)', async () => {
    fault.onReady = async () => { await created[created.length - 1]!.process.kill(); };
    const err = await sendVm({ vm, openStream: () => a.open(b.addr), statusRetryMs: 100 }).then(() => null, (e: unknown) => e);
    await assertStayedHere(err, 'commit');
  });

  it('cancelled by the sender during pre-copy', async () => {
    const ac = new AbortController();
    const err = await sendVm({ vm, openStream: () => a.open(b.addr), signal: ac.signal, onProgress: (p) => { if (p.round >= 1) ac.abort(); } })
      .then(() => null, (e: unknown) => e);
    assert.equal(ac.signal.aborted, true);
    await assertStayedHere(err, 'precopy');
    assert.match((err as Error).message, /cancel/);
  });
});
