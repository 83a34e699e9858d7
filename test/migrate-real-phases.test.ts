// Faults with the real VM in the later phases: the destination's VM process dies in a
// later pre-copy round (round ≥ 1) or during stop-and-copy (after the last pages, before
// the state is restored). Every time the guest keeps running at the source — heartbeat
// continues there with no gap or repeat, memory verified — the destination's VM process
// is gone, and the MigrationError names the phase in which the sender learned of it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HeartbeatWatcher } from '../guest/index.js';
import { MigrationError, sendVm } from '../migrate/index.js';
import { T, type Frame } from '../migrate/frames.js';
import { MigratableVm, VmProcessHost, type VmProcess } from '../node/vm-host/index.js';
import { requireKvm } from './support/kvm.js';
import { MiB, bootProbe, moreBeats, probeReady, startPeer, waitFor, type MigrationPeer } from './migrate-real-support.js';

describe('real VM migration faults in later phases: the destination VM process dies', function () {
  this.timeout(120_000);
  const watcher = new HeartbeatWatcher();
  let src: VmProcess | undefined;
  let vm: MigratableVm;
  let a: MigrationPeer, b: MigrationPeer;
  const created: MigratableVm[] = [];
  let onFrame: ((f: Frame, round: number) => void) | undefined;

  before(async function () {
    requireKvm(this);
    src = await bootProbe(watcher, 'fill=32M ws=8M rate=8M beat=50ms entropy=0.3', 64 * MiB);
    await probeReady(watcher);
    vm = await MigratableVm.attach(src, { id: 'probe-phases', generation: 1 });
    const host = new VmProcessHost({ onCreated: (v) => { created.push(v); v.process.on('serial', (d: Buffer) => watcher.push(d)); } });
    a = await startPeer({ host: new VmProcessHost() });
    b = await startPeer({ host, readyGraceMs: 1000, onFrame: (f, round) => onFrame?.(f, round) });
  });
  after(async () => {
    await src?.kill();
    await Promise.all(created.map((v) => v.process.kill()));
    await a?.stop(); await b?.stop();
  });
  afterEach(() => { onFrame = undefined; });

  const killDestination = (): void => { process.kill(created[created.length - 1]!.process.pid, 'SIGKILL'); };

  /** The source runs the guest, unthrottled and intact; the destination's VM process is gone. */
  async function assertStayedHere(err: unknown, phase: string): Promise<void> {
    assert.ok(err instanceof MigrationError, `expected a MigrationError, got ${String(err)}`);
    assert.equal(err.phase, phase, `wrong phase in: ${err.message}`);
    assert.equal(err.vmState, 'running-here');
    assert.match(err.message, /VM process \d+ crashed \(killed by SIGKILL\)/, 'the error says the destination VM process died');
    assert.equal(vm.isRunning(), true);
    const dest = created[created.length - 1]!;
    await waitFor(() => !dest.process.alive, 'the destination VM process to end');
    const seq = watcher.lastSeq;
    await moreBeats(watcher, 6);
    assert.ok(watcher.lastSeq >= seq + 6, 'the heartbeat continues at the source');
    assert.equal(watcher.gaps, 0); assert.equal(watcher.repeats, 0);
    assert.equal(watcher.corruptPage, undefined); assert.equal(watcher.lastHeartbeat?.ok, true);
  }

  /**
   * Blocks until the kernel has finished tearing the killed VM process down (a zombie or gone):
   * only then is its control socket closed, so the receiver's next turn of the event loop learns
   * of the death. Tearing down a VM takes a while here; without this wait a fast pre-copy could
   * converge on the still-mapped memory first, and the failure would surface only at `ready`.
   */
  const waitUntilExited = (pid: number): void => {
    const until = Date.now() + 10_000;
    for (;;) {
      let state = '';
      try { state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? ''; } catch { return; }
      if (state === 'Z' || state === 'X' || Date.now() > until) return;
    }
  };

  it('destination VM process killed in a later pre-copy round (round 1)', async () => {
    let killedInRound = -1;
    onFrame = (f, round) => {
      if (killedInRound < 0 && f.type === T.PAGES && round >= 1) {
        killedInRound = round;
        killDestination();
        waitUntilExited(created[created.length - 1]!.process.pid);
      }
    };
    // A downtime target of 0 keeps pre-copy going while the guest dirties pages: round 1 surely
    // comes, and the rounds after it reach the dead VM's memory before the sender could converge.
    const err = await sendVm({ vm, openStream: () => a.open(b.addr), targetDowntimeMs: 0, deadlineMs: 60_000 })
      .then(() => null, (e: unknown) => e);
    assert.equal(killedInRound, 1);
    await assertStayedHere(err, 'precopy');
  });

  it('destination VM process killed in stop-and-copy (after the last pages, before the state)', async () => {
    let killed = false;
    let sourcePausedAtKill: boolean | undefined;
    onFrame = (f) => {
      if (!killed && f.type === T.ROUND_END && f.lastRound) { killed = true; sourcePausedAtKill = !vm.isRunning(); killDestination(); }
    };
    const err = await sendVm({ vm, openStream: () => a.open(b.addr), statusRetryMs: 100 }).then(() => null, (e: unknown) => e);
    assert.equal(killed, true);
    assert.equal(sourcePausedAtKill, true, 'the fault hit while the source was paused for stop-and-copy');
    // The last round's end is acknowledged before the state goes, so the sender learns of the
    // death while it waits for `ready` (the destination cannot restore the state): phase 'ready'.
    await assertStayedHere(err, 'ready');
    assert.match((err as Error).message, /destination aborted/);
  });
});
