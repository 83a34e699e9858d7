// The VM process: a crash in native code is contained and reported, and a VM
// saved to disk continues in a brand-new process as if nothing had happened.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmProcess, type VmExit } from '../node/vm-host/index.js';
import { HeartbeatWatcher, probeGuestPath, type Heartbeat } from '../guest/index.js';
import { requireKvm } from './support/kvm.js';
import { moreBeats } from './support/heartbeat.js';

const MiB = 1024 * 1024;

/** Boots the probe guest in a fresh VM process; serial output feeds `watcher`. */
async function bootProbe(watcher: HeartbeatWatcher, cmdline: string, memBytes = 64 * MiB): Promise<VmProcess> {
  const vm = await VmProcess.spawn();
  vm.on('serial', (d: Buffer) => watcher.push(d));
  await vm.request({ op: 'create', memBytes, vcpus: 1 });
  await vm.request({ op: 'loadMultiboot', kernelPath: probeGuestPath(), cmdline });
  await vm.request({ op: 'start' });
  return vm;
}

describe('VM process (node/vm-host)', function () {
  let dir: string;
  const procs: VmProcess[] = [];
  beforeEach(function () { requireKvm(this); dir = mkdtempSync(join(tmpdir(), 'roam-vmhost-')); });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports an abort() in native code as a crash of that VM process only', async () => {
    const bystanderBeats = new HeartbeatWatcher();
    const bystander = await bootProbe(bystanderBeats, 'fill=8M ws=2M rate=2M beat=50ms');
    procs.push(bystander);
    await moreBeats(bystanderBeats, 2);

    const victim = await VmProcess.spawn();
    procs.push(victim);
    await victim.request({ op: 'create', memBytes: 32 * MiB, vcpus: 1 });
    const exited = once(victim, 'exit') as Promise<[VmExit]>;
    const failed = victim.request({ op: 'abortForTest' }).then(() => undefined, (e: Error) => e);
    const [exit] = await exited;
    assert.equal(exit.expected, false);
    assert.equal(exit.signal, 'SIGABRT');
    assert.match(exit.message, /crashed/);
    const err = await failed;
    assert.ok(err instanceof Error, 'the request in flight must fail, not hang');
    assert.match(err.message, /crashed .* during 'abortForTest'/);
    await assert.rejects(victim.request({ op: 'info' }), /is gone/);

    // The other VM process, and this one, keep going.
    await moreBeats(bystanderBeats, 3);
    assert.equal(bystander.alive, true);
    assert.equal(bystanderBeats.corruptPage, undefined);
  });

  it('saves to disk, is killed, and continues in a new process — 20 times, under a dirtying workload', async () => {
    const watcher = new HeartbeatWatcher();
    let lastTicks = -1; let ticksWentBack = 0; let firstTicks = -1;
    watcher.on('heartbeat', (hb: Heartbeat) => {
      if (hb.ticks <= lastTicks) ticksWentBack++;
      if (firstTicks < 0) firstTicks = hb.ticks;
      lastTicks = hb.ticks;
    });
    const image = join(dir, 'vm.img');
    let vm = await bootProbe(watcher, 'fill=24M ws=8M rate=16M beat=20ms entropy=0.3');
    procs.push(vm);
    await moreBeats(watcher, 3);
    for (let round = 0; round < 20; round++) {
      await vm.request({ op: 'saveToFile', path: image });
      const seqAtSave = watcher.lastSeq;
      await vm.kill('SIGKILL');
      vm = await VmProcess.spawn();
      procs.push(vm);
      vm.on('serial', (d: Buffer) => watcher.push(d));
      await vm.request({ op: 'restoreFromFile', path: image });
      await vm.request({ op: 'start' });
      await moreBeats(watcher, 2);
      assert.ok(watcher.lastSeq > seqAtSave, `round ${round}: heartbeat did not continue after restore`);
      assert.equal(watcher.gaps, 0, `round ${round}: heartbeat sequence has gaps`);
      assert.equal(watcher.repeats, 0, `round ${round}: heartbeat sequence repeats`);
      assert.equal(watcher.corruptPage, undefined, `round ${round}: guest reports corrupt memory`);
    }
    assert.equal(ticksWentBack, 0, 'timer ticks must keep advancing across restores');
    assert.ok(watcher.lastHeartbeat!.ticks > firstTicks, 'timer ticks advanced');
  });
});
